"""Any audio or video file → mono float32 samples at the model's rate (16 kHz by default).

PyAV demuxes only the audio stream and decodes it; FFmpeg's resampler converts the frames, in
batches of about half a second, to mono float at the target rate (a stereo mix becomes the
mean of its channels).

Memory: ``decode_audio`` writes into one float32 array sized from the duration the headers
announce, grown geometrically in place if they under-announce and trimmed at the end, so a
long file is held once — never as a list of pieces joined by a concatenation.

Time: sample 0 is the stream's first sample. ``start``/``end`` seek (so a resumed job does
not decode from the top), decode from a little before ``start`` so the decoder and the
resampler have settled, and drop samples by timestamp: a slice equals the same span of the
whole decode to within the container's clock (sample-exact for WAV, FLAC and Ogg; Matroska
and WebM count milliseconds, so there it may sit 16 samples off).

Damaged files: a file cut short decodes to the audio that is there (a download stopped at
half gives its first half); a damaged packet in the middle is skipped, with a warning in the
log. Only a file that yields no audio at all raises ``AudioError(path, "corrupt or
truncated audio")`` — and an MP4/M4A cut short before its index (written at the end) is
such a file, since nothing in it can be located without the index.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterator

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer

from voxtune.engine.audio.media_file import (
    TRUNCATED,
    open_audio_stream,
    stream_duration,
    stream_origin,
)
from voxtune.engine.errors import AudioError

log = logging.getLogger(__name__)

# Decoding starts this far before a requested start: the longest settling time among common
# codecs (MP3's bit reservoir, AAC and Opus pre-roll) plus the resampler's filter.
PREROLL_SECONDS = 0.5
# A header may claim any length; beyond this the buffer starts smaller and grows.
MAX_INITIAL_SECONDS = 2 * 60 * 60
UNKNOWN_LENGTH_SECONDS = 30.0
GROWTH = 1.5
BATCH_SECONDS = 0.5
# For float output FFmpeg mixes stereo to mono as (L + R) / sqrt(2), 3 dB louder than either
# channel; capping each output's gains at a sum of 1 makes it the mean (and keeps 5.1's
# centre-weighted mix, scaled to unit gain).
_DOWNMIX_TO_MEAN = {"rematrix_maxval": "1.0"}


def decode_audio(
    path: str | os.PathLike[str],
    sampling_rate: int = 16000,
    start: float = 0.0,
    end: float | None = None,
) -> np.ndarray:
    """The audio of ``path`` from ``start`` to ``end`` seconds (None: to the end).

    Returns a 1-D float32 array at ``sampling_rate``, mono, in [-1, 1] for PCM sources.
    Raises AudioError ("PATH: problem") for a file that cannot give audio.
    """
    check_span(sampling_rate, start, end)
    with open_audio_stream(path) as (container, stream):
        return decode_open(path, container, stream, sampling_rate, start, end)


def iter_audio(
    path: str | os.PathLike[str],
    sampling_rate: int = 16000,
    chunk_seconds: float = 30.0,
    start: float = 0.0,
) -> Iterator[np.ndarray]:
    """The audio of ``path`` from ``start`` seconds, as float32 mono chunks.

    Every chunk holds ``chunk_seconds`` of audio except the last, which holds the rest;
    joined, they equal ``decode_audio(path, sampling_rate, start)``. Each chunk is a fresh
    array the caller may keep. The file stays open until the iterator is exhausted or closed;
    errors, AudioError or ValueError, surface at the first ``next()``.
    """
    check_span(sampling_rate, start, None)
    check_chunk(chunk_seconds)
    with open_audio_stream(path) as (container, stream):
        yield from iter_open(path, container, stream, sampling_rate, chunk_seconds, start)


def decode_open(
    path: str | os.PathLike[str],
    container: InputContainer,
    stream: AudioStream,
    sampling_rate: int,
    start: float,
    end: float | None,
    rewind: bool = False,
) -> np.ndarray:
    """``decode_audio`` on a stream already open; ``rewind``: it was read before."""
    first = round(start * sampling_rate)
    wanted = None if end is None else round(end * sampling_rate) - first
    samples = np.empty(
        _initial_capacity(container, stream, sampling_rate, start, wanted), dtype=np.float32
    )
    filled = 0
    blocks = _mono_blocks(path, container, stream, sampling_rate, start, rewind)
    for block in blocks:
        if wanted is not None:
            block = block[: wanted - filled]
        if filled + len(block) > len(samples):
            grown = max(filled + len(block), math.ceil(len(samples) * GROWTH))
            # In place: for large arrays realloc remaps pages instead of copying them.
            samples.resize(grown, refcheck=False)
        samples[filled : filled + len(block)] = block
        filled += len(block)
        if filled == wanted:
            break
    blocks.close()  # before its container
    samples.resize(filled, refcheck=False)
    return samples


def iter_open(
    path: str | os.PathLike[str],
    container: InputContainer,
    stream: AudioStream,
    sampling_rate: int,
    chunk_seconds: float,
    start: float,
    rewind: bool = False,
) -> Iterator[np.ndarray]:
    """``iter_audio`` on a stream already open; ``rewind``: it was read before."""
    size = max(1, round(chunk_seconds * sampling_rate))
    chunk = np.empty(size, dtype=np.float32)
    filled = 0
    for block in _mono_blocks(path, container, stream, sampling_rate, start, rewind):
        while len(block):
            taken = min(size - filled, len(block))
            chunk[filled : filled + taken] = block[:taken]
            filled += taken
            block = block[taken:]
            if filled == size:
                yield chunk
                chunk = np.empty(size, dtype=np.float32)
                filled = 0
    if filled:
        chunk.resize(filled, refcheck=False)
        yield chunk


def check_chunk(chunk_seconds: float) -> None:
    if chunk_seconds <= 0:
        raise ValueError(f"chunk_seconds must be positive, not {chunk_seconds}")


def check_span(sampling_rate: int, start: float, end: float | None) -> None:
    if sampling_rate <= 0:
        raise ValueError(f"sampling_rate must be positive, not {sampling_rate}")
    if start < 0:
        raise ValueError(f"start must be at least 0, not {start}")
    if end is not None and end < start:
        raise ValueError(f"end ({end}) comes before start ({start})")


def _initial_capacity(
    container: InputContainer,
    stream: AudioStream,
    sampling_rate: int,
    start: float,
    wanted: int | None,
) -> int:
    announced = stream_duration(container, stream)
    seconds = UNKNOWN_LENGTH_SECONDS if announced is None else max(announced - start, 0.0)
    # Headers round; a little slack saves a regrowth for a few samples.
    capacity = math.ceil(min(seconds, MAX_INITIAL_SECONDS) * sampling_rate * 1.01) + 1024
    return capacity if wanted is None else min(capacity, wanted)


def _mono_blocks(
    path: str | os.PathLike[str],
    container: InputContainer,
    stream: AudioStream,
    sampling_rate: int,
    start: float,
    rewind: bool = False,
) -> Iterator[np.ndarray]:
    """Mono float32 blocks at ``sampling_rate`` whose first sample is ``start`` seconds in.

    ``rewind``: the stream was read before, so even ``start`` 0 seeks (to its beginning).
    """
    origin = stream_origin(stream)
    if start > 0 or rewind:
        _seek(path, container, stream, origin + max(start - PREROLL_SECONDS, 0.0))
    frames = _decoded_frames(path, container, stream)
    first = next(frames, None)
    if first is None:
        # Past the end of a file is an empty slice; a whole file with no audio is broken.
        if start == 0:
            raise AudioError(os.fspath(path), TRUNCATED)
        return
    at = 0.0 if first.time is None else first.time - origin
    to_drop = max(round(start * sampling_rate) - round(at * sampling_rate), 0)
    batches = _batched(itertools.chain([first], frames))
    try:
        for block in _resampled(batches, sampling_rate):
            if to_drop:
                dropped = min(to_drop, len(block))
                block = block[dropped:]
                to_drop -= dropped
            if len(block):
                yield block
    except av.error.FFmpegError:
        # A header that lies (rate 0, 65535 channels): the resampler refuses the frames it
        # made; one line naming the file, not an ENOMEM traceback (issue 19 fuzz test).
        raise AudioError(os.fspath(path), TRUNCATED) from None


def _seek(
    path: str | os.PathLike[str], container: InputContainer, stream: AudioStream, seconds: float
) -> None:
    if stream.time_base is None:
        return
    try:
        container.seek(int(seconds / stream.time_base), stream=stream, backward=True)
    except av.error.FFmpegError:
        # Not seekable (a pipe, a stream without an index): decode from the top instead;
        # the timestamp-based drop still finds ``start``.
        log.info("%s: cannot seek; decoding from the start", os.fspath(path))


def _decoded_frames(
    path: str | os.PathLike[str], container: InputContainer, stream: AudioStream
) -> Iterator[av.AudioFrame]:
    packets = container.demux(stream)
    skipped = 0
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as error:
            # The file ends before the container says it should: keep what came before.
            log.warning("%s: audio ends early (%s)", os.fspath(path), error.strerror)
            break
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            skipped += 1
            continue
        yield from frames
    if skipped:
        log.warning("%s: skipped %d damaged audio packet(s)", os.fspath(path), skipped)


def _batched(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """Consecutive frames of one shape merged into frames of about BATCH_SECONDS.

    Codecs hand out 20–60 ms frames; resampling and converting each on its own costs more in
    per-call overhead than the work itself.
    """
    fifo: av.AudioFifo | None = None
    shape: tuple[str, str, int] | None = None
    size = 0
    for frame in frames:
        frame_shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if frame_shape != shape:
            if fifo is not None and fifo.samples:
                yield fifo.read()
            fifo = av.AudioFifo()
            shape = frame_shape
            size = round(frame.sample_rate * BATCH_SECONDS)
        assert fifo is not None
        # Timestamps were read from the first frame; a gap or overlap later on is the file's,
        # and the FIFO would refuse it.
        frame.pts = None
        fifo.write(frame)
        if fifo.samples >= size:
            yield fifo.read()
    if fifo is not None and fifo.samples:
        yield fifo.read()


def _resampled(frames: Iterator[av.AudioFrame], rate: int) -> Iterator[np.ndarray]:
    """Frames → mono float32 at ``rate``, the resampler flushed at the end.

    PyAV's resampler is fixed to the first frame it sees, and some streams (HE-AAC,
    broadcast MP3, files joined end to end) change rate or layout part-way: a new shape
    flushes the old resampler and starts another.
    """
    resampler: av.AudioResampler | None = None
    shape: tuple[str, str, int] | None = None
    for frame in frames:
        frame_shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if frame_shape != shape:
            if resampler is not None:
                yield from map(_samples, resampler.resample(None))
            resampler = av.AudioResampler(
                format="flt", layout="mono", rate=rate, options=_DOWNMIX_TO_MEAN
            )
            shape = frame_shape
        yield from map(_samples, resampler.resample(frame))
    if resampler is not None:
        yield from map(_samples, resampler.resample(None))


def _samples(frame: av.AudioFrame) -> np.ndarray:
    # Packed mono float has one plane; the view keeps the frame alive until it is copied.
    return np.frombuffer(frame.planes[0], dtype=np.float32, count=frame.samples)
