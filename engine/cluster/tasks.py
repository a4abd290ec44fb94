"""What travels between the engine process and a Ray worker: plain, picklable dataclasses.

Audio goes with the task as the file's own bytes (still compressed: an hour of Opus is about
15 MiB) up to ``MAX_SENT_BYTES``, so a cluster needs no shared storage for ordinary audio;
a bigger file (video, mostly) is read by the worker from its path, which must then be the
same on every worker (an NFS or SMB mount). Torch-free and ray-free.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.types import Segment

MAX_SENT_BYTES = 64 * 1024 * 1024
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class AudioSource:
    path: str  # the input as the job names it (the worker's file when ``data`` is None)
    data: bytes | None = None  # the file's bytes, sent with the task

    @classmethod
    def for_file(cls, path: str, limit: int = MAX_SENT_BYTES) -> AudioSource:
        """The file's bytes when small enough to send; else its path (OSError: unreadable)."""
        if Path(path).stat().st_size > limit:
            return cls(path=path)
        return cls(path=path, data=Path(path).read_bytes())


@dataclass(frozen=True, slots=True)
class Window:
    """One window of a long file: its segments and the checkpoint after it (JSON)."""

    segments: tuple[Segment, ...]
    checkpoint: str
    finished: bool
    seek: float
    language: str | None


@dataclass(frozen=True, slots=True)
class LongProgress:
    """What a worker did on a long file since it was last asked."""

    windows: tuple[Window, ...]
    duration: float | None = None  # seconds of decoded audio, once known (a fresh start)


@dataclass(frozen=True, slots=True)
class LongOutcome:
    """How a long file's task ended (its windows come through ``take``)."""

    model_name: str = ""
    error: str | None = None  # one line naming the file
    retryable: bool = True
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class ClipResult:
    """One file of a batch of short ones: its segments, or why it failed."""

    segments: tuple[Segment, ...] = ()
    duration: float = 0.0
    error: str | None = None  # one line naming the file
    retryable: bool = True


def check_address(address: str) -> str:
    """``address`` when a Ray cluster may answer there; VoxtuneError in one line otherwise.

    ``auto`` (a cluster this machine is part of) is left to Ray; ``ray://HOST:PORT`` (Ray
    Client) and ``HOST:PORT`` (the head's GCS) get a TCP connect first, which fails in
    seconds where ``ray.init`` would retry for a minute.
    """
    if address == "auto":
        return address
    parts = urlsplit(address if "://" in address else f"//{address}")
    if parts.scheme not in ("", "ray") or not parts.hostname or parts.port is None:
        raise VoxtuneError(f"--cluster {address}: expected ray://HOST:PORT, HOST:PORT or auto")
    try:
        with socket.create_connection((parts.hostname, parts.port), CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise VoxtuneError(
            f"--cluster {address}: no Ray cluster answers there ({reason})"
        ) from None
    return address
