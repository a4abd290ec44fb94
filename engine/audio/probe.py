"""What a media file holds, read from its headers without decoding it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from av.audio.stream import AudioStream
from av.container import InputContainer

from voxtune.engine.audio.media_file import open_audio_stream, stream_duration


@dataclass(frozen=True, slots=True)
class AudioProbe:
    """The main audio stream of a file, as its headers describe it.

    ``duration`` is in seconds, 0.0 when the file does not say (and, for a file cut short,
    what the headers promised rather than what is there). ``sample_rate`` and ``channels``
    are the decoder's, before Voxtune resamples. ``codec`` and ``container`` are FFmpeg's
    decoder and demuxer names, e.g. "aac" and "mov,mp4,m4a,3gp,3g2,mj2".
    """

    path: Path
    duration: float
    sample_rate: int
    channels: int
    codec: str
    container: str


def probe(path: str | os.PathLike[str]) -> AudioProbe:
    """Describe the audio in ``path``; AudioError if it has none that can be decoded."""
    with open_audio_stream(path) as (container, stream):
        return describe(path, container, stream)


def describe(
    path: str | os.PathLike[str], container: InputContainer, stream: AudioStream
) -> AudioProbe:
    """The probe of a stream already open (its headers; nothing is decoded)."""
    context = stream.codec_context
    return AudioProbe(
        path=Path(path),
        duration=stream_duration(container, stream) or 0.0,
        sample_rate=context.sample_rate,
        channels=context.channels,
        codec=context.name,
        container=container.format.name,
    )
