"""Torch's intra-op thread count: chosen once per process, at engine or CLI start.

``torch.set_num_threads`` acts on the whole process: the count one thread sets becomes the
count of every thread that computes afterwards (measured: a thread started after a live
session's thread had set one ran with one). A live session used to switch counts on every
step while jobs decoded beside it; now nothing that runs per session or per step sets it.
The engine process and the CLI call ``set_torch_threads`` once, before any model runs.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_default: int | None = None  # torch's own choice, read before anything changed it


def set_torch_threads(count: int | None = None) -> int:
    """Give torch ``count`` intra-op threads (None: torch's default); returns the count.

    silero-vad sets one thread for the whole process when it is imported; it is imported
    here, first, so that loading the VAD later (on a session's thread) changes nothing.
    """
    global _default
    import torch

    with _lock:
        if _default is None:
            _default = torch.get_num_threads()
        import silero_vad  # noqa: F401  (its import-time set_num_threads(1) happens now)

        wanted = count or _default
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
        return wanted
