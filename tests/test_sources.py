"""Audio sources: the ring buffer, the PortAudio callback path, and FileSource.

The callback tests feed real speech the way PortAudio delivers it (48 kHz stereo int16,
44.1 kHz float32 mono, ... in small blocks, from another thread) through the real callback
and check that what comes out is the same speech at 16 kHz. The microphone itself, through
a real PulseAudio server, is tested in test_live_microphone.py.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
import sounddevice
from media_factory import best_alignment

from voxtune.engine.audio import decode_audio
from voxtune.engine.audio.ring_buffer import RingBuffer
from voxtune.engine.audio.sources import (
    SILENCE_DBFS,
    AudioSource,
    CaptureBuffer,
    FileSource,
    level_dbfs,
)
from voxtune.engine.errors import AudioError

RATE = 16000


def decode_pcm(path: Path, rate: int, layout: str, fmt: str) -> np.ndarray:
    """The file as a device would deliver it: ``(frames, channels)`` at ``rate``, plain PyAV."""
    resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
    channels = 2 if layout == "stereo" else 1
    parts = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            parts += [f.to_ndarray().reshape(-1, channels) for f in resampler.resample(frame)]
    parts += [f.to_ndarray().reshape(-1, channels) for f in resampler.resample(None)]
    return np.concatenate(parts)


def deliver(capture: CaptureBuffer, frames: np.ndarray, block: int, pace: float) -> None:
    """Call the callback as PortAudio's audio thread would: fixed blocks, on time."""
    flags = sounddevice.CallbackFlags()
    for first in range(0, len(frames), block):
        piece = frames[first : first + block]
        capture.callback(piece, len(piece), None, flags)
        time.sleep(pace)


# --- the ring buffer ------------------------------------------------------------------------


def test_ring_buffer_racing_reader_gets_intact_runs_and_counts_every_lost_frame() -> None:
    ring = RingBuffer(capacity=997, channels=1, dtype="int64")
    total = 300_000
    rng = np.random.default_rng(7)

    def produce() -> None:
        position = 0
        while position < total:
            count = int(rng.integers(1, 400))
            ring.write(np.arange(position, position + count, dtype=np.int64).reshape(-1, 1))
            position += count

    producer = threading.Thread(target=produce)
    producer.start()
    pieces = []
    while producer.is_alive() or ring.available:
        ring.wait(0.01)
        pieces.append(ring.read(int(rng.integers(1, 2000))).reshape(-1))
    producer.join()
    got = np.concatenate(pieces)
    # Whatever survived is in order, never duplicated, never torn: strictly increasing.
    assert np.all(np.diff(got) > 0)
    assert got[-1] == ring.written - 1
    assert len(got) + ring.dropped == ring.written >= total


def test_ring_buffer_reader_behind_by_more_than_capacity_loses_the_oldest() -> None:
    ring = RingBuffer(capacity=100, channels=2, dtype="float32")
    frames = np.arange(500, dtype=np.float32).repeat(2).reshape(-1, 2)
    for first in range(0, 500, 64):
        ring.write(frames[first : first + 64])
    got = ring.read()
    assert ring.dropped == 400
    np.testing.assert_array_equal(got, frames[400:])
    assert ring.read().shape == (0, 2)
    assert not ring.wait(0.01)


# --- the callback, with frames as PortAudio delivers them -------------------------------------


@pytest.mark.parametrize(
    ("rate", "layout", "fmt", "dtype"),
    [
        (48000, "stereo", "s16", "int16"),
        (44100, "mono", "flt", "float32"),
        (48000, "stereo", "flt", "float32"),
        (16000, "mono", "s16", "int16"),
    ],
)
def test_callback_blocks_come_out_as_the_same_speech_at_16k(
    english_dev: list, rate: int, layout: str, fmt: str, dtype: str
) -> None:
    path = english_dev[0].path
    device_frames = decode_pcm(path, rate, layout, fmt)
    reference = decode_pcm(path, RATE, "mono", "flt").reshape(-1)
    capture = CaptureBuffer(rate, device_frames.shape[1], dtype, buffer_seconds=5.0)
    block = rate // 100  # 10 ms blocks, as a low-latency stream delivers them
    audio_thread = threading.Thread(
        target=deliver, args=(capture, device_frames, block, 0.0005), daemon=True
    )
    audio_thread.start()
    out, levels = [], []
    while audio_thread.is_alive():
        out.append(capture.read(0.05, ended=False))
        levels.append(capture.level)
    audio_thread.join()
    while (piece := capture.read(0.05, ended=True)) is not None:
        out.append(piece)
    recorded = np.concatenate(out)

    assert recorded.dtype == np.float32 and recorded.ndim == 1
    assert capture.dropped_frames == 0 and capture.overflows == 0
    assert abs(len(recorded) - len(reference)) <= 64
    lag, correlation, _ = best_alignment(recorded, reference)
    assert abs(lag) <= 64
    assert correlation > 0.99
    # Full scale is preserved: int16 is divided by 32768, channels averaged, not summed.
    full_scale = 32768.0 if dtype == "int16" else 1.0
    delivered = device_frames.astype(np.float64).mean(axis=1) / full_scale
    assert np.std(recorded) == pytest.approx(np.std(delivered), rel=0.02)
    # The meter moved with the speech: loud blocks read well above the quiet ones.
    assert max(levels) > -40 and min(levels) < max(levels) - 20


def test_reader_that_stalls_gets_the_newest_audio_and_the_loss_is_counted(
    english_dev: list,
) -> None:
    device_frames = decode_pcm(english_dev[1].path, 48000, "stereo", "s16")[: 48000 * 4]
    capture = CaptureBuffer(48000, 2, "int16", buffer_seconds=1.0)
    deliver(capture, device_frames, 480, 0.0)  # the reader is away for the whole 4 s
    recorded = capture.read(0.1, ended=True)
    assert recorded is not None
    assert capture.dropped_frames == 3 * 48000
    newest = decode_pcm(english_dev[1].path, RATE, "mono", "flt").reshape(-1)[RATE * 3 : RATE * 4]
    lag, correlation, _ = best_alignment(recorded, newest)
    assert abs(lag) <= 64 and correlation > 0.98


def test_overflow_flags_from_portaudio_are_counted() -> None:
    capture = CaptureBuffer(48000, 1, "float32")
    flags = sounddevice.CallbackFlags()
    flags.input_overflow = True
    block = np.zeros((480, 1), dtype=np.float32)
    for _ in range(3):
        capture.callback(block, 480, None, flags)
    capture.callback(block, 480, None, sounddevice.CallbackFlags())
    assert capture.overflows == 3


def test_level_is_rms_in_dbfs() -> None:
    assert level_dbfs(np.zeros(1600, dtype=np.float32)) == SILENCE_DBFS
    assert level_dbfs(np.ones(1600, dtype=np.float32)) == pytest.approx(0.0)
    sine = np.sin(np.linspace(0, 200 * np.pi, 16000)).astype(np.float32) * 0.1
    assert level_dbfs(sine) == pytest.approx(-23.01, abs=0.05)


# --- clear errors -----------------------------------------------------------------------------


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_missing_portaudio_says_which_package_to_install() -> None:
    # The real sounddevice import on a system whose loader cannot find libportaudio.
    result = run_python(
        "import ctypes.util; ctypes.util.find_library = lambda name: None\n"
        "from voxtune.engine.audio.sources import MicrophoneSource\n"
        "from voxtune.engine.errors import VoxtuneError\n"
        "try:\n    MicrophoneSource()\n"
        "except VoxtuneError as exc:\n    print(exc)\n"
    )
    assert result.stdout.strip() == "PortAudio library not found (install libportaudio2)"


def test_no_input_device_is_a_clear_error() -> None:
    if Path("/dev/snd").exists():
        pytest.skip("this machine has a sound card: an input device exists")
    # No sound card here, and no sound server answering: PortAudio finds no input at all.
    result = run_python(
        "from voxtune.engine.audio.sources import MicrophoneSource\n"
        "from voxtune.engine.errors import VoxtuneError\n"
        "try:\n    MicrophoneSource()\n"
        "except VoxtuneError as exc:\n    print(exc)\n",
        PULSE_SERVER="unix:/nonexistent/voxtune/native",
    )
    assert result.stdout.strip() == (
        "no input device found (connect a microphone, or start PulseAudio/PipeWire)"
    )


# --- FileSource -------------------------------------------------------------------------------


def test_file_source_unpaced_hands_out_the_whole_file_in_blocks(english_dev: list) -> None:
    path = english_dev[2].path
    source = FileSource(path, speed=None, block_seconds=0.25)
    assert isinstance(source, AudioSource)
    pieces = []
    with source:
        while (piece := source.read(1.0)) is not None:
            pieces.append(piece)
    assert all(len(p) == RATE // 4 for p in pieces[:-1])
    np.testing.assert_array_equal(np.concatenate(pieces), decode_audio(path))
    assert source.read(0.1) is None


def test_file_source_at_8x_takes_an_eighth_of_the_duration(english_dev: list) -> None:
    path = english_dev[3].path
    duration = len(decode_audio(path)) / RATE
    received = 0
    began = time.monotonic()
    with FileSource(path, speed=8.0, block_seconds=0.1) as source:
        while (piece := source.read(0.05)) is not None:
            received += len(piece)
            # Never ahead of the clock: a microphone cannot deliver the future.
            assert received / RATE <= (time.monotonic() - began) * 8.0 + 0.1
    assert received / RATE == pytest.approx(duration, abs=1e-3)
    assert time.monotonic() - began >= duration / 8.0 - 0.1


def test_file_source_read_times_out_with_an_empty_array(english_dev: list) -> None:
    with FileSource(english_dev[0].path, speed=1.0, block_seconds=0.5) as source:
        first = source.read(0.01)
        assert first is not None and first.size == 0
        assert source.level == SILENCE_DBFS
        second = source.read(1.0)
        assert second is not None and second.size == RATE // 2
        assert SILENCE_DBFS < source.level == pytest.approx(level_dbfs(second))


def test_file_source_on_a_file_that_is_not_audio_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "notes.ogg"
    bad.write_text("these are not sounds")
    with pytest.raises(AudioError, match=r"notes\.ogg: "):
        FileSource(bad)
