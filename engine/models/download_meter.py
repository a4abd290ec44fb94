"""Bytes of a Hub download as they arrive, and a way to stop it part-way.

``snapshot_download`` reports its bytes through the ``tqdm_class`` it is given (one bar per
kind: files fetched, bytes received, bytes written). ``DownloadMeter.bar_class`` is such a
class that draws nothing: it keeps the byte counts for ``ModelProgress`` and, once
``cancel()`` was called, raises ``DownloadCancelled`` from the next chunk's update, which
ends every file's transfer and the download with it.
"""

from __future__ import annotations

import threading
from typing import Any

from tqdm import tqdm

from voxtune.engine.errors import ModelError

# huggingface_hub reads (and counts) a download in 10 MiB chunks; a cancel or a progress
# step waits for the next chunk, so the pulls we watch read 1 MiB at a time.
WATCHED_CHUNK_BYTES = 1 << 20


class DownloadCancelled(ModelError):
    """The user stopped a download; its partial files are removed by the caller."""


class DownloadMeter:
    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._bars: list[tqdm] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def bytes(self) -> tuple[int, int | None]:
        """(bytes so far, bytes in all — None until the download says)."""
        with self._lock:
            bars = [b for b in self._bars if getattr(b, "unit", "") == "B"]
        done = max((int(b.n) for b in bars), default=0)
        # The bytes-received bar grows its total past the file sizes when it must; the
        # bytes-written one holds the sum of the file sizes: the smaller known total is true.
        totals = [int(b.total) for b in bars if b.total]
        return done, (min(totals) if totals else None)

    def bar_class(self) -> type[tqdm]:
        meter = self

        class Bar(tqdm):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs["disable"] = True  # nothing drawn: the engine has no terminal
                self.unit = kwargs.get("unit", "it")
                super().__init__(*args, **kwargs)
                with meter._lock:
                    meter._bars.append(self)

            def update(self, n: float | None = 1) -> bool | None:
                if meter.cancelled:
                    raise DownloadCancelled("download cancelled")
                self.n += n or 0  # a disabled tqdm does not count by itself
                return None

        return Bar
