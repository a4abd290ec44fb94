"""Opening a media file's audio stream, with every failure turned into one clear AudioError.

FFmpeg reports most failures as "Invalid data found when processing input", whether the
file is a spreadsheet or an MP4 cut short before its index. To tell the person which it is,
a file FFmpeg cannot open is classified by its first bytes: a known media signature means
"corrupt or truncated audio", anything else "not an audio or video file". Pictures and text
that FFmpeg *can* open (PNG, JPEG, a .txt through its ANSI-art demuxer) have no sound and
are no media either, so they get the second message too, not "no audio stream".
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

import av
from av.audio.stream import AudioStream
from av.container import InputContainer

from voxtune.engine.errors import AudioError

TRUNCATED = "corrupt or truncated audio"
NOT_MEDIA = "not an audio or video file"
NO_AUDIO = "no audio stream"

# (offset, bytes) that begin the containers people feed a transcriber. Only consulted after
# FFmpeg has failed, to word the error; FFmpeg's own probe decides what is readable.
_MEDIA_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"OggS"),
    (0, b"fLaC"),
    (0, b"ID3"),  # MP3 (and AAC) with an ID3v2 tag
    (0, b"\x1a\x45\xdf\xa3"),  # EBML: Matroska, WebM
    (4, b"ftyp"),  # MP4, M4A, MOV, 3GP
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (4, b"wide"),
    (8, b"WAVE"),
    (8, b"AVI "),
    (8, b"AIFF"),
    (8, b"AIFC"),
    (0, b"#!AMR"),
    (0, b"caff"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),  # ASF: WMA, WMV
)

# Demuxers for still pictures and text: FFmpeg opens these as a "video" stream.
_PICTURE_OR_TEXT_DEMUXERS = frozenset({"image2", "image2pipe", "tty", "gif", "apng"})


@contextmanager
def open_audio_stream(path: str | os.PathLike[str]) -> Iterator[tuple[InputContainer, AudioStream]]:
    """Open ``path`` and pick its main audio stream; the container closes on exit.

    Raises AudioError ("PATH: problem") for every file that cannot give audio.
    """
    name = os.fspath(path)
    _check_readable_file(name)
    try:
        # "file:" keeps a name such as "concat:a|b" or "http:x" from selecting another
        # protocol, and the whitelist stops playlists inside the file from reaching out.
        container = av.open(
            "file:" + name, metadata_errors="ignore", options={"protocol_whitelist": "file"}
        )
    except av.error.FFmpegError as error:
        raise AudioError(name, _open_problem(name, error)) from error
    with container:
        yield container, _audio_stream(name, container)


def stream_duration(container: InputContainer, stream: AudioStream) -> float | None:
    """Seconds of audio the headers announce (an estimate for some formats), or None."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def stream_origin(stream: AudioStream) -> float:
    """Time of the stream's first sample: zero on Voxtune's clock."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def looks_like_media(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts like an audio or video container."""
    if any(head[offset : offset + len(magic)] == magic for offset, magic in _MEDIA_SIGNATURES):
        return True
    # An MPEG audio frame sync: MP3 without a tag, AAC in ADTS.
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


def _check_readable_file(name: str) -> None:
    try:
        info = os.stat(name)
    except FileNotFoundError:
        raise AudioError(name, "file not found") from None
    except PermissionError:
        raise AudioError(name, "permission denied") from None
    except OSError as error:
        raise AudioError(name, f"cannot read: {error.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise AudioError(name, "is a directory, not a file")
    if stat.S_ISREG(info.st_mode) and info.st_size == 0:
        raise AudioError(name, "empty file")


def _open_problem(name: str, error: av.error.FFmpegError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, EOFError):
        return TRUNCATED
    try:
        with open(name, "rb") as handle:
            head = handle.read(16)
    except OSError as read_error:
        return f"cannot read: {read_error.strerror}"
    return TRUNCATED if looks_like_media(head) else NOT_MEDIA


def _audio_stream(name: str, container: InputContainer) -> AudioStream:
    stream = container.streams.best("audio")
    if stream is None:
        demuxers = container.format.name.split(",")
        pictures_or_text = any(
            demuxer.endswith("_pipe") or demuxer in _PICTURE_OR_TEXT_DEMUXERS
            for demuxer in demuxers
        )
        if container.streams.video and not pictures_or_text:
            raise AudioError(name, NO_AUDIO)
        raise AudioError(name, NOT_MEDIA)
    if stream.codec_context is None:
        raise AudioError(name, "unsupported audio codec")
    return stream
