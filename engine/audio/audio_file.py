"""A media file opened once: what its headers say, then its audio, from the same handle.

Probing a file and then decoding it opened it twice (FFmpeg reads and parses the headers
each time, and for an MP4 the whole index). ``AudioFile`` opens the container once; callers
that need the length before the audio (a progress bar, the job queue's length buckets) ask
``probe`` and then ``decode`` or ``chunks`` on the same object.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer

from voxtune.engine.audio.decode import check_chunk, check_span, decode_open, iter_open
from voxtune.engine.audio.media_file import open_audio_stream
from voxtune.engine.audio.probe import AudioProbe, describe


class AudioFile:
    """``path`` opened for reading (AudioError at once if it cannot give audio).

    Use it as a context manager, or call ``close``. Reads may repeat: a second ``decode``
    seeks back on the same handle instead of opening the file again.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stack = ExitStack()
        opened: tuple[InputContainer, AudioStream] = self._stack.enter_context(
            open_audio_stream(path)
        )
        self._container, self._stream = opened
        self._read_before = False
        self._probe: AudioProbe | None = None

    def probe(self) -> AudioProbe:
        """What the headers say (read once, kept)."""
        if self._probe is None:
            self._probe = describe(self.path, self._container, self._stream)
        return self._probe

    @property
    def duration(self) -> float:
        """Seconds of audio the headers announce; 0.0 when they do not say."""
        return self.probe().duration

    def decode(
        self, sampling_rate: int = 16000, start: float = 0.0, end: float | None = None
    ) -> np.ndarray:
        """As ``decode_audio(path, sampling_rate, start, end)``, from this handle."""
        check_span(sampling_rate, start, end)
        rewind = self._take_turn()
        return decode_open(
            self.path, self._container, self._stream, sampling_rate, start, end, rewind
        )

    def chunks(
        self, sampling_rate: int = 16000, chunk_seconds: float = 30.0, start: float = 0.0
    ) -> Iterator[np.ndarray]:
        """As ``iter_audio(path, …)``, from this handle (which must stay open meanwhile)."""
        check_span(sampling_rate, start, None)
        check_chunk(chunk_seconds)
        rewind = self._take_turn()
        return iter_open(
            self.path, self._container, self._stream, sampling_rate, chunk_seconds, start, rewind
        )

    def _take_turn(self) -> bool:
        """Whether the handle was read before (so the next read seeks to its start)."""
        read_before, self._read_before = self._read_before, True
        return read_before

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
