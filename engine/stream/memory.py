"""Give memory that was freed back to the operating system, on glibc.

Every decode allocates tensors of slightly different sizes (the buffer grows, the text
grows); glibc keeps the freed blocks in its arenas, so a live session's resident memory
crept up by ~65 MiB over an hour of audio without any object being kept. ``malloc_trim``
at utterance ends returns them: measured flat at 627 MiB from 3 to 24 minutes of audio.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.cache
def _malloc_trim():  # type: ignore[no-untyped-def]
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None


def release_freed_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
