"""Decoding real speech from every claimed format to 16 kHz mono float32, and every way a
file can be unfit, each with its exact one-line message."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import Utterance
from media_factory import (
    FORMATS,
    AudioSpec,
    Media,
    concatenate_speech,
    join_files,
    make_media,
    make_picture,
    make_stereo_wav,
    make_unannounced_webm,
    make_video_only,
    read_speech,
    truncate,
    write_media,
)

from voxtune.engine.audio import AudioProbe, decode_audio, iter_audio, probe
from voxtune.engine.audio.decode import UNKNOWN_LENGTH_SECONDS
from voxtune.engine.errors import AudioError, VoxtuneError

RATE = 16000
# Container clocks (Matroska counts milliseconds) place a sliced start to about a millisecond.
SLICE_LAG_LIMIT = RATE // 1000 + 1


def best_alignment(expected: np.ndarray, actual: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Highest normalised cross-correlation of two signals within ±max_lag samples, and its lag
    (positive: ``actual`` runs late)."""
    n = min(len(expected), len(actual)) - 2 * max_lag
    assert n > RATE // 2, "signals too short to compare"
    core = expected[max_lag : max_lag + n].astype(np.float64)
    region = actual[: n + 2 * max_lag].astype(np.float64)
    size = 1 << (len(region) + n).bit_length()
    spectrum = np.fft.rfft(region, size) * np.conj(np.fft.rfft(core, size))
    products = np.fft.irfft(spectrum, size)[: 2 * max_lag + 1]
    energy = np.concatenate([[0.0], np.cumsum(region**2)])
    norms = np.sqrt(np.maximum(energy[n : n + 2 * max_lag + 1] - energy[: 2 * max_lag + 1], 0))
    scores = products / (np.linalg.norm(core) * norms + 1e-12)
    best = int(np.argmax(scores))
    return float(scores[best]), best - max_lag


@pytest.fixture(scope="module")
def speech(english_dev: list[Utterance]) -> Path:
    return english_dev[0].path


@pytest.fixture(scope="module")
def media(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Media]:
    directory = tmp_path_factory.mktemp("media")
    return {fmt: make_media(fmt, speech, directory) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_decodes_to_the_speech_put_in(fmt: str, media: dict[str, Media]) -> None:
    item = media[fmt]
    audio = decode_audio(item.path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / RATE - item.duration) <= 0.05
    score, lag = best_alignment(item.reference, audio, max_lag=RATE // 50)
    assert score > 0.99, f"{fmt}: correlation {score:.3f} with the original"
    assert abs(lag) <= RATE // 200, f"{fmt}: shifted by {lag} samples"


EXPECTED_PROBE = {
    "wav": ("pcm_s16le", "wav"),
    "flac": ("flac", "flac"),
    "mp3": ("mp3", "mp3"),
    "ogg": ("opus", "ogg"),
    "m4a": ("aac", "mp4"),
    "mp4": ("aac", "mp4"),
    "mkv": ("mp3", "matroska"),
    "webm": ("opus", "webm"),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_probe_reads_the_headers(fmt: str, media: dict[str, Media]) -> None:
    item = media[fmt]
    found = probe(item.path)
    codec, demuxer = EXPECTED_PROBE[fmt]
    assert isinstance(found, AudioProbe)
    assert found.path == item.path
    assert found.sample_rate == item.spec.rate
    assert found.channels == item.spec.channels
    assert found.codec.startswith(codec)  # FFmpeg calls its float MP3 decoder "mp3float"
    assert demuxer in found.container.split(",")
    assert abs(found.duration - item.duration) <= 0.05


def test_stereo_is_mixed_down_to_the_mean_of_its_channels(
    english_dev: list[Utterance], tmp_path: Path
) -> None:
    item = make_stereo_wav(english_dev[1].path, english_dev[2].path, tmp_path)
    audio = decode_audio(item.path)
    assert len(audio) == len(item.reference)
    assert np.abs(audio - item.reference).max() < 2e-3
    left_only = read_speech(english_dev[1].path)[0][: len(audio)]
    assert np.abs(audio[: len(left_only)] - left_only).max() > 0.05  # the right channel counts


def test_other_sampling_rates(media: dict[str, Media]) -> None:
    item = media["wav"]
    audio = decode_audio(item.path, sampling_rate=8000)
    assert abs(len(audio) / 8000 - item.duration) <= 0.05


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_slice_is_the_same_span_of_the_whole(fmt: str, media: dict[str, Media]) -> None:
    path = media[fmt].path
    whole = decode_audio(path)
    part = decode_audio(path, start=3.0, end=5.5)
    assert len(part) == round(2.5 * RATE)
    margin = SLICE_LAG_LIMIT
    span = whole[3 * RATE - margin : round(5.5 * RATE) + margin]
    padded = np.concatenate([np.zeros(margin, np.float32), part, np.zeros(margin, np.float32)])
    score, lag = best_alignment(span, padded, max_lag=margin)
    assert score > 0.99 and abs(lag) <= SLICE_LAG_LIMIT, f"{fmt}: {score:.4f} at lag {lag}"


def test_a_flac_slice_is_sample_exact(media: dict[str, Media]) -> None:
    path = media["flac"].path
    whole = decode_audio(path)
    np.testing.assert_array_equal(decode_audio(path, start=2.25, end=7.0), whole[36000:112000])
    np.testing.assert_array_equal(decode_audio(path, start=4.0), whole[64000:])


def test_slices_at_and_past_the_end(media: dict[str, Media]) -> None:
    item = media["ogg"]
    whole = decode_audio(item.path)
    tail = decode_audio(item.path, start=item.duration - 1.0, end=item.duration + 30.0)
    assert abs(len(tail) - RATE) <= SLICE_LAG_LIMIT
    np.testing.assert_allclose(tail[-RATE // 2 :], whole[-RATE // 2 :], atol=1e-4)
    assert len(decode_audio(item.path, start=item.duration + 5.0)) == 0
    assert len(decode_audio(item.path, start=1.0, end=1.0)) == 0


@pytest.mark.parametrize("fmt", ["wav", "mp3", "webm"])
def test_iter_audio_chunks_join_to_decode_audio(fmt: str, media: dict[str, Media]) -> None:
    path = media[fmt].path
    chunks = list(iter_audio(path, chunk_seconds=1.7))
    assert all(len(chunk) == round(1.7 * RATE) for chunk in chunks[:-1])
    assert 0 < len(chunks[-1]) <= round(1.7 * RATE)
    assert all(chunk.dtype == np.float32 for chunk in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), decode_audio(path))
    resumed = np.concatenate(list(iter_audio(path, chunk_seconds=4.0, start=2.0)))
    np.testing.assert_array_equal(resumed, decode_audio(path, start=2.0))


def test_a_file_whose_headers_give_no_length_is_read_to_its_end(
    ivr_set: list[Utterance], tmp_path: Path
) -> None:
    # Twice the buffer decode_audio starts with for an unknown length: it must grow twice.
    prompts = concatenate_speech([u.path for u in ivr_set[:12]])
    signal = np.tile(prompts, int(2.2 * UNKNOWN_LENGTH_SECONDS * RATE / len(prompts)) + 1)
    item = make_unannounced_webm(signal, tmp_path)
    assert probe(item.path).duration == 0.0
    audio = decode_audio(item.path)
    assert abs(len(audio) / RATE - item.duration) <= 0.05
    score, lag = best_alignment(item.reference, audio, max_lag=RATE // 100)
    assert score > 0.99 and abs(lag) <= RATE // 200


def test_mp3s_joined_end_to_end_decode_past_the_seam(
    english_dev: list[Utterance], tmp_path: Path
) -> None:
    """``cat a.mp3 b.mp3``: the seam holds a packet FFmpeg rejects, and the second half
    changes rate and channels (44.1 kHz stereo → 22.05 kHz mono)."""
    first = make_media("mp3", english_dev[0].path, tmp_path)
    second_speech = read_speech(english_dev[3].path)
    second_spec = AudioSpec("mp3", "libmp3lame", 22050, 1, bit_rate=64_000)
    second = write_media(tmp_path / "second.mp3", second_speech, RATE, second_spec)
    joined = join_files([first.path, second], tmp_path / "joined.mp3")
    audio = decode_audio(joined)
    expected = first.duration + second_speech.shape[1] / RATE
    assert abs(len(audio) / RATE - expected) <= 0.15  # the seam adds a frame or two of silence
    head, _ = best_alignment(first.reference, audio[: len(first.reference)], max_lag=80)
    assert head > 0.99
    # The second file starts after its own LAME header frame and encoder delay.
    score, lag = best_alignment(second_speech[0], audio[len(first.reference) :], RATE // 10)
    assert score > 0.99 and 0 <= lag < RATE // 10


def test_a_file_cut_short_gives_the_audio_that_is_there(media: dict[str, Media]) -> None:
    for fmt in ("ogg", "mp3", "webm"):
        item = media[fmt]
        cut = truncate(item.path, item.path.stat().st_size // 2, item.path.parent)
        audio = decode_audio(cut)
        assert RATE < len(audio) < len(item.reference) - RATE, fmt
        score, _ = best_alignment(item.reference[: len(audio)], audio, max_lag=80)
        assert score > 0.99, fmt


def test_decoded_arrays_own_their_memory(media: dict[str, Media]) -> None:
    """Trimmed in place, not a view that would keep the over-sized buffer alive."""
    audio = decode_audio(media["mp4"].path)
    assert audio.flags.owndata and audio.base is None


# --- unfit files: each gets "PATH: problem", one line, from probe and from decoding -------

READERS: dict[str, Callable[[Path], object]] = {
    "probe": probe,
    "decode_audio": decode_audio,
    "iter_audio": lambda path: list(iter_audio(path)),
}


def _unfit_files(directory: Path, media: dict[str, Media]) -> Iterator[tuple[Path, str]]:
    yield directory / "nowhere.wav", "file not found"
    yield directory, "is a directory, not a file"
    empty = directory / "empty.mp3"
    empty.touch()
    yield empty, "empty file"
    text = directory / "notes.txt"
    text.write_text("Meeting notes: buy more microphones.\n" * 40, encoding="utf-8")
    yield text, "not an audio or video file"
    disguised = directory / "notes.mp3"
    disguised.write_text("Not a song.\n" * 100, encoding="utf-8")
    yield disguised, "not an audio or video file"
    yield make_picture(directory), "not an audio or video file"
    yield make_video_only(directory), "no audio stream"
    # The MP4 muxer writes its index after the data: the first KBs cannot be placed at all.
    m4a = media["m4a"].path
    yield truncate(m4a, 8192, directory), "corrupt or truncated audio"
    yield truncate(media["ogg"].path, 2000, directory), "corrupt or truncated audio"
    yield truncate(media["mp3"].path, 100, directory), "corrupt or truncated audio"
    yield truncate(media["wav"].path, 44, directory), "corrupt or truncated audio"


def _faststart_m4a_without_data(source: Media, directory: Path) -> Path:
    """An M4A with its index first, cut right after the index: it opens, then holds nothing."""
    speech = source.reference[None, :]
    whole = write_media(
        directory / "faststart.m4a", speech, RATE, source.spec, {"movflags": "faststart"}
    )
    data = whole.read_bytes()
    return truncate(whole, data.index(b"mdat") + 4, directory)


@pytest.mark.parametrize("reader", READERS)
def test_every_unfit_file_gets_its_one_line_message(
    reader: str, media: dict[str, Media], tmp_path: Path
) -> None:
    for path, problem in _unfit_files(tmp_path, media):
        with pytest.raises(AudioError) as caught:
            READERS[reader](path)
        assert str(caught.value) == f"{path}: {problem}"
        assert isinstance(caught.value, VoxtuneError)
        assert caught.value.path == str(path) and caught.value.problem == problem


@pytest.mark.parametrize("reader", ["decode_audio", "iter_audio"])
def test_a_file_that_opens_but_holds_no_audio_is_an_error(
    reader: str, media: dict[str, Media], tmp_path: Path
) -> None:
    hollow = _faststart_m4a_without_data(media["m4a"], tmp_path)
    assert probe(hollow).codec == "aac"  # the headers are intact
    with pytest.raises(AudioError) as caught:
        READERS[reader](hollow)
    assert str(caught.value) == f"{hollow}: corrupt or truncated audio"


def test_an_unreadable_file_is_permission_denied(media: dict[str, Media]) -> None:
    """In a real child process that gives up root first (root reads anything): it decodes a
    readable copy (so every lazy import is done), drops to ``nobody``, then tries the file."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        readable = Path(folder) / "readable.ogg"
        readable.write_bytes(media["ogg"].path.read_bytes())
        readable.chmod(0o644)
        locked = Path(folder) / "locked.ogg"
        locked.write_bytes(readable.read_bytes())
        locked.chmod(0o000)
        script = (
            "import os, sys\n"
            "from voxtune.engine.audio import decode_audio, probe\n"
            "from voxtune.engine.errors import AudioError\n"
            "decode_audio(sys.argv[1])\n"
            "if os.geteuid() == 0:\n"
            "    os.setgroups([])\n"
            "    os.setresgid(65534, 65534, 65534)\n"
            "    os.setresuid(65534, 65534, 65534)\n"
            "for reader in (probe, decode_audio):\n"
            "    try:\n"
            "        reader(sys.argv[2])\n"
            "    except AudioError as error:\n"
            "        print(error)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, str(readable), str(locked)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [f"{locked}: permission denied"] * 2


def test_bad_arguments_are_programming_errors(media: dict[str, Media]) -> None:
    path = media["flac"].path
    with pytest.raises(ValueError, match="start"):
        decode_audio(path, start=-1.0)
    with pytest.raises(ValueError, match="before start"):
        decode_audio(path, start=2.0, end=1.0)
    with pytest.raises(ValueError, match="sampling_rate"):
        decode_audio(path, sampling_rate=0)
    with pytest.raises(ValueError, match="chunk_seconds"):
        list(iter_audio(path, chunk_seconds=0))
