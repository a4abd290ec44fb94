"""A sample ring buffer that an audio callback can write into without ever waiting.

One producer (PortAudio's callback thread) and one consumer (the reader). The producer never
takes a lock and never waits for the reader: when the reader falls behind by more than the
capacity, the oldest samples are overwritten, and the reader counts what it lost. The reader
detects a write racing its copy with a seqlock-style pair of counters: the producer announces
the end of the block it is about to write (``_writing_to``) before touching memory and
publishes it (``_written``) after, so the reader can discard any part of its copy that may
have been overwritten meanwhile.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    def __init__(self, capacity: int, channels: int = 1, dtype: np.dtype | str = "float32") -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, not {capacity}")
        self.capacity = capacity
        self.channels = channels
        self._data = np.zeros((capacity, channels), dtype=dtype)
        # Both counters only grow and are replaced whole; under the GIL a reader sees either
        # the old or the new value, never a torn one.
        self._written = 0
        self._writing_to = 0
        self._read = 0
        self._dropped = 0
        self._ready = threading.Event()

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def available(self) -> int:
        """Frames the reader can still get (at most the capacity)."""
        return min(self._written - self._read, self.capacity)

    @property
    def dropped(self) -> int:
        """Frames lost because the reader fell more than ``capacity`` behind."""
        return self._dropped

    @property
    def written(self) -> int:
        return self._written

    def write(self, frames: np.ndarray) -> None:
        """Append ``frames`` (shape ``(n, channels)``); the producer side, never blocks."""
        count = len(frames)
        if count == 0:
            return
        start = self._written
        if count > self.capacity:
            # Only the newest ``capacity`` frames can survive; skip writing the rest.
            frames = frames[count - self.capacity :]
            start += count - self.capacity
        end = self._written + count
        self._writing_to = end
        self._copy_in(start, frames)
        self._written = end
        self._ready.set()

    def read(self, max_frames: int | None = None) -> np.ndarray:
        """Take up to ``max_frames`` of the oldest unread frames (all of them when None)."""
        written = self._written
        first = max(self._read, written - self.capacity)
        last = written if max_frames is None else min(written, first + max_frames)
        if last <= first:
            return self._data[:0].copy()
        out = self._copy_out(first, last)
        # Anything the producer has started writing since may have overwritten the start of
        # our copy; keep only what is certainly intact.
        intact = min(max(first, self._writing_to - self.capacity), last)
        self._dropped += intact - self._read
        self._read = last
        return out[intact - first :]

    def wait(self, timeout: float | None) -> bool:
        """Wait until unread frames exist (or ``timeout`` passes); True when some do."""
        if self.available > 0:
            return True
        self._ready.clear()
        # Re-check after clearing: a write between the first check and the clear would
        # otherwise be missed until the next one.
        if self.available > 0:
            return True
        self._ready.wait(timeout)
        return self.available > 0

    def wake(self) -> None:
        """Release a reader waiting in ``wait`` (used on stop)."""
        self._ready.set()

    def _copy_in(self, start: int, frames: np.ndarray) -> None:
        offset = start % self.capacity
        head = min(len(frames), self.capacity - offset)
        self._data[offset : offset + head] = frames[:head]
        if head < len(frames):
            self._data[: len(frames) - head] = frames[head:]

    def _copy_out(self, first: int, last: int) -> np.ndarray:
        count = last - first
        offset = first % self.capacity
        head = min(count, self.capacity - offset)
        if head == count:
            return self._data[offset : offset + count].copy()
        return np.concatenate((self._data[offset:], self._data[: count - head]))
