"""Transcribe one file into a ``Transcript``, reporting progress as audio time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.audio import AudioFile
from voxtune.engine.types import Segment, Transcript, TranscriptionOptions

if TYPE_CHECKING:
    from voxtune.engine.families.family import OfflineTranscriber

ProgressCallback = Callable[[Segment, float], None]  # (segment just decoded, audio duration)


def transcribe_file(
    path: str | Path | AudioFile,
    transcriber: OfflineTranscriber,
    options: TranscriptionOptions,
    on_segment: ProgressCallback | None = None,
) -> Transcript:
    """``path``: a file, or one already open (asked for its length first: not opened again)."""
    if isinstance(path, AudioFile):
        audio = path.decode()
    else:
        with AudioFile(path) as media:
            audio = media.decode()
    segments, info = transcriber.transcribe(audio, options)
    collected = []
    for segment in segments:
        collected.append(segment)
        if on_segment is not None:
            on_segment(segment, info.duration)
    return Transcript(
        segments=tuple(collected),
        language=info.language,
        duration=info.duration,
        model=info.model,
    )
