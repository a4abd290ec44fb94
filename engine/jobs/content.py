"""A file's content fingerprint: what tells a re-recorded file from the one a job transcribed.

Size, modification time and a hash of the first and last MiB: cheap enough for thousands of
files at every ``batch`` (it reads at most 2 MiB a file), and any re-recording, edit or
replacement changes at least one of them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SAMPLE_BYTES = 1 << 20


def content_fingerprint(path: str | Path) -> str | None:
    """``size:mtime_ns:hash``; None when the file cannot be read (the job then fails on it)."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            digest = hashlib.blake2b(digest_size=16)
            digest.update(handle.read(SAMPLE_BYTES))
            if stat.st_size > SAMPLE_BYTES:
                handle.seek(max(SAMPLE_BYTES, stat.st_size - SAMPLE_BYTES))
                digest.update(handle.read(SAMPLE_BYTES))
    except OSError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}:{digest.hexdigest()}"
