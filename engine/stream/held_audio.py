"""The audio a live decoder hears: stretches of the stream, with the silences between left out.

A live session decodes the current utterance together with the end of the one before it, as
offline transcription (VAD on) hears speech with its pauses cut short. So what is held is not
one stretch of the stream but a few, joined; this keeps them and maps a time in the joined
audio back to the time it was spoken.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000


class HeldAudio:
    def __init__(self) -> None:
        self._pieces: list[tuple[int, np.ndarray]] = []  # (absolute first sample, samples)

    @property
    def samples(self) -> int:
        return sum(len(piece) for _, piece in self._pieces)

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    @property
    def start(self) -> float:
        """When the first sample held was spoken (0.0 when nothing is held)."""
        return self._pieces[0][0] / SAMPLE_RATE if self._pieces else 0.0

    def append(self, audio: np.ndarray, first: int) -> None:
        """``audio`` spoken from absolute sample ``first`` on."""
        if not len(audio):
            return
        if self._pieces and self._pieces[-1][0] + len(self._pieces[-1][1]) == first:
            last_first, last = self._pieces[-1]
            self._pieces[-1] = (last_first, np.concatenate((last, audio)))
        else:
            self._pieces.append((first, np.asarray(audio, dtype=np.float32)))

    def audio(self) -> np.ndarray:
        if len(self._pieces) == 1:
            return self._pieces[0][1]
        return np.concatenate([p for _, p in self._pieces] or [np.zeros(0, dtype=np.float32)])

    def spoken_at(self, seconds: float) -> float:
        """The time in the stream of the point ``seconds`` into ``audio()``."""
        position = round(seconds * SAMPLE_RATE)
        for first, piece in self._pieces:
            if position < len(piece):
                return (first + max(0, position)) / SAMPLE_RATE
            position -= len(piece)
        if not self._pieces:
            return seconds
        first, piece = self._pieces[-1]
        return (first + len(piece) + position) / SAMPLE_RATE

    def seconds_before(self, at: float) -> float:
        """Seconds held of what was spoken before ``at``."""
        stop = round(at * SAMPLE_RATE)
        return sum(max(0, min(len(p), stop - first)) for first, p in self._pieces) / SAMPLE_RATE

    def remove(self, start: float, end: float) -> None:
        """Forget what was spoken from ``start`` to ``end`` (seconds in the stream)."""
        begin, stop = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
        if stop <= begin:
            return
        kept: list[tuple[int, np.ndarray]] = []
        for first, piece in self._pieces:
            last = first + len(piece)
            if last <= begin or first >= stop:
                kept.append((first, piece))
                continue
            if first < begin:
                kept.append((first, piece[: begin - first].copy()))
            if last > stop:
                kept.append((stop, piece[stop - first :].copy()))
        self._pieces = kept

    def cut(self, at: float) -> None:
        """Forget everything spoken before ``at``."""
        if self._pieces:
            self.remove(self._pieces[0][0] / SAMPLE_RATE, at)
