"""Real speech encoded into every container and codec Voxtune claims to read.

Each factory decodes a real recording (from ``../shared/data``) with plain PyAV, encodes it
into one format, and returns a ``Media``: the file and the 16 kHz mono signal that was put
into it, so a test can compare what Voxtune decodes against what went in. Video files carry
tiny frames (64x64, a few per second) so encoding stays fast.

Deliberately independent of ``voxtune.engine.audio``: the reference signal must not come
from the code under test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REFERENCE_RATE = 16000
VIDEO_SIZE = 64
VIDEO_FPS = 5


@dataclass(frozen=True)
class AudioSpec:
    """How one format stores its audio: container, codec, sample rate, channels."""

    container: str
    codec: str
    rate: int
    channels: int
    video_codec: str | None = None
    bit_rate: int | None = None


# What each claimed format holds. The WAV is 44.1 kHz stereo so that decoding it exercises
# both resampling and downmixing; the others use rates their codecs are commonly met at.
SPECS: dict[str, AudioSpec] = {
    "wav": AudioSpec("wav", "pcm_s16le", 44100, 2),
    "flac": AudioSpec("flac", "flac", 16000, 1),
    "mp3": AudioSpec("mp3", "libmp3lame", 44100, 2, bit_rate=128_000),
    "ogg": AudioSpec("ogg", "libopus", 48000, 1, bit_rate=64_000),
    "m4a": AudioSpec("ipod", "aac", 44100, 2, bit_rate=128_000),
    "mp4": AudioSpec("mp4", "aac", 48000, 2, video_codec="libx264", bit_rate=128_000),
    "mkv": AudioSpec("matroska", "libmp3lame", 44100, 2, video_codec="mpeg4", bit_rate=128_000),
    "webm": AudioSpec("webm", "libopus", 48000, 2, video_codec="libvpx", bit_rate=96_000),
}
FORMATS: tuple[str, ...] = tuple(SPECS)


@dataclass(frozen=True)
class Media:
    """A file written by a factory and the 16 kHz mono signal encoded into it."""

    path: Path
    reference: np.ndarray
    duration: float
    spec: AudioSpec


def read_speech(path: Path, rate: int = REFERENCE_RATE) -> np.ndarray:
    """Decode a recording to mono float32 at ``rate``, shaped (1, samples)."""
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
    parts: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            parts.extend(f.to_ndarray() for f in resampler.resample(frame))
    parts.extend(f.to_ndarray() for f in resampler.resample(None))
    return np.concatenate(parts, axis=1).astype(np.float32)


def resample(signal: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a (channels, samples) float32 signal with FFmpeg's resampler."""
    if rate_in == rate_out:
        return signal.astype(np.float32)
    layout = "mono" if signal.shape[0] == 1 else "stereo"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate_out)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(signal), format="fltp", layout=layout)
    frame.sample_rate = rate_in
    parts = [f.to_ndarray() for f in resampler.resample(frame)]
    parts.extend(f.to_ndarray() for f in resampler.resample(None))
    return np.concatenate(parts, axis=1).astype(np.float32)


def write_media(
    path: Path,
    signal: np.ndarray,
    rate: int,
    spec: AudioSpec,
    muxer_options: dict[str, str] | None = None,
) -> Path:
    """Encode a (channels, samples) float32 signal at ``rate`` as ``spec`` says."""
    with av.open(str(path), mode="w", format=spec.container, options=muxer_options) as container:
        audio = container.add_stream(spec.codec, rate=spec.rate, layout=_layout(spec.channels))
        if spec.bit_rate:
            audio.bit_rate = spec.bit_rate
        video = _add_video(container, spec.video_codec) if spec.video_codec else None
        seconds = signal.shape[1] / rate
        _encode_audio(container, audio, resample(signal, rate, spec.rate))
        if video is not None:
            _encode_video(container, video, seconds)
    return path


def make_media(fmt: str, source: Path, directory: Path, seconds: float | None = None) -> Media:
    """Write ``source`` speech (the first ``seconds`` of it) as format ``fmt``.

    Stereo formats carry the same speech on both channels, so the mono mixdown of the file
    is the speech itself.
    """
    spec = SPECS[fmt]
    speech = read_speech(source, REFERENCE_RATE)
    if seconds is not None:
        speech = speech[:, : int(seconds * REFERENCE_RATE)]
    channels = np.repeat(speech, spec.channels, axis=0)
    path = write_media(directory / f"{source.stem}.{fmt}", channels, REFERENCE_RATE, spec)
    return Media(path, speech[0], speech.shape[1] / REFERENCE_RATE, spec)


def make_stereo_wav(left: Path, right: Path, directory: Path, rate: int = 44100) -> Media:
    """A 44.1 kHz stereo WAV with a different recording on each channel.

    The reference is the mean of the two channels at 16 kHz: what a downmix must give.
    """
    first, second = read_speech(left, rate), read_speech(right, rate)
    length = min(first.shape[1], second.shape[1])
    stereo = np.concatenate([first[:, :length], second[:, :length]], axis=0)
    spec = SPECS["wav"]
    path = write_media(directory / "stereo.wav", stereo, rate, spec)
    mixed = resample(stereo, rate, REFERENCE_RATE).mean(axis=0)
    return Media(path, mixed.astype(np.float32), length / rate, spec)


def make_video_only(directory: Path, seconds: float = 2.0) -> Path:
    """An H.264 MP4 with pictures and no sound at all."""
    path = directory / "silent-film.mp4"
    with av.open(str(path), mode="w", format="mp4") as container:
        video = _add_video(container, "libx264")
        _encode_video(container, video, seconds)
    return path


def make_unannounced_webm(signal: np.ndarray, directory: Path) -> Media:
    """A WebM written as a live stream: no duration in its headers, no index.

    ``signal`` is 16 kHz mono float32; a decoder must find the length by reading.
    """
    spec = AudioSpec("webm", "libopus", 48000, 1, bit_rate=64_000)
    path = write_media(
        directory / "live.webm", signal[None, :], REFERENCE_RATE, spec, {"live": "1"}
    )
    return Media(path, signal, len(signal) / REFERENCE_RATE, spec)


def make_picture(directory: Path) -> Path:
    """A real PNG image: FFmpeg opens it, as a one-frame video."""
    path = directory / "picture.png"
    with av.open(str(path), mode="w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width = VIDEO_SIZE
        stream.height = VIDEO_SIZE
        stream.pix_fmt = "rgb24"
        picture = np.zeros((VIDEO_SIZE, VIDEO_SIZE, 3), dtype=np.uint8)
        container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def concatenate_speech(sources: Sequence[Path], gap: float = 0.3) -> np.ndarray:
    """Join recordings at 16 kHz mono with ``gap`` seconds of silence after each."""
    silence = np.zeros(int(gap * REFERENCE_RATE), dtype=np.float32)
    parts: list[np.ndarray] = []
    for source in sources:
        parts.extend((read_speech(source)[0], silence))
    return np.concatenate(parts)


def join_files(paths: Sequence[Path], target: Path) -> Path:
    """Byte-concatenate files, as ``cat a.mp3 b.mp3 > ab.mp3`` does."""
    target.write_bytes(b"".join(path.read_bytes() for path in paths))
    return target


def truncate(path: Path, size: int, directory: Path) -> Path:
    """A copy of the first ``size`` bytes of ``path``: a download cut short."""
    cut = directory / f"truncated-{size}-{path.name}"
    cut.write_bytes(path.read_bytes()[:size])
    return cut


def _layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def _encode_audio(
    container: av.container.OutputContainer, stream: av.AudioStream, signal: np.ndarray
) -> None:
    # PyAV converts each frame to the encoder's sample format and re-chunks it to the
    # encoder's frame size, so planar float in any block size will do.
    layout = _layout(signal.shape[0])
    block = 4096
    for offset in range(0, signal.shape[1], block):
        chunk = np.ascontiguousarray(signal[:, offset : offset + block])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = stream.rate
        frame.pts = offset
        frame.time_base = Fraction(1, stream.rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _add_video(container: av.container.OutputContainer, codec: str) -> av.VideoStream:
    video = container.add_stream(codec, rate=VIDEO_FPS)
    video.width = VIDEO_SIZE
    video.height = VIDEO_SIZE
    video.pix_fmt = "yuv420p"
    return video


def _encode_video(
    container: av.container.OutputContainer, stream: av.VideoStream, seconds: float
) -> None:
    for index in range(max(1, round(seconds * VIDEO_FPS))):
        shade = (index * 40) % 256
        picture = np.full((VIDEO_SIZE, VIDEO_SIZE, 3), shade, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = index
        frame.time_base = Fraction(1, VIDEO_FPS)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def best_alignment(recorded: np.ndarray, reference: np.ndarray) -> tuple[int, float, int]:
    """(lag in samples, correlation, overlapping samples) of ``recorded`` against
    ``reference`` at the best lag (FFT cross-correlation over every lag)."""
    size = 1 << int(np.ceil(np.log2(len(recorded) + len(reference))))
    spectrum = np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(reference, size))
    lag = int(np.argmax(np.fft.irfft(spectrum, size)))
    lag = lag if lag < size // 2 else lag - size
    a, b = (recorded[lag:], reference) if lag >= 0 else (recorded, reference[-lag:])
    n = min(len(a), len(b))
    return lag, float(np.corrcoef(a[:n], b[:n])[0, 1]), n
