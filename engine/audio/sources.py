"""Live audio sources: a microphone, or a file played as if it were one.

Every source hands out 16 kHz mono float32 through one interface, ``AudioSource``. ``read``
returns the audio that has arrived since the last call (waiting up to ``timeout`` for some),
an empty array when none arrived in time, and ``None`` once the source has ended (stopped,
or the file is over) and everything was handed out.

sounddevice is imported lazily and can be passed in, so a machine without PortAudio can
still import this module, and tests can drive the real callback.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from voxtune.engine.audio.ring_buffer import RingBuffer
from voxtune.engine.errors import VoxtuneError

SAMPLING_RATE = 16_000
SILENCE_DBFS = -120.0  # the meter's floor: digital silence has no finite level
_FULL_SCALE = {"float32": 1.0, "int16": 32768.0, "int32": 2147483648.0}


@runtime_checkable
class AudioSource(Protocol):
    """Anything that produces 16 kHz mono float32 audio as it happens."""

    sampling_rate: int

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self, timeout: float | None = None) -> np.ndarray | None: ...

    @property
    def level(self) -> float:
        """RMS level of the latest audio, in dBFS (``SILENCE_DBFS`` at most quiet)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


def level_dbfs(samples: np.ndarray) -> float:
    if samples.size == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_DBFS, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DBFS


# --- microphone -----------------------------------------------------------------------------


def load_sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio into a message a user can act on."""
    try:
        import sounddevice
    except OSError as exc:
        raise VoxtuneError("PortAudio library not found (install libportaudio2)") from exc
    return sounddevice


@dataclass(frozen=True, slots=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    channels: int  # the most input channels it offers
    default_samplerate: float
    is_default: bool


def list_input_devices(sounddevice: ModuleType | None = None) -> list[InputDevice]:
    sd = sounddevice or load_sounddevice()
    host_apis = sd.query_hostapis()
    default_input = _default_input_index(sd)
    return [
        InputDevice(
            index=d["index"],
            name=d["name"],
            host_api=host_apis[d["hostapi"]]["name"],
            channels=d["max_input_channels"],
            default_samplerate=float(d["default_samplerate"]),
            is_default=d["index"] == default_input,
        )
        for d in sd.query_devices()
        if d["max_input_channels"] > 0
    ]


def find_input_device(
    device: int | str | None, sounddevice: ModuleType | None = None
) -> InputDevice:
    """The input device with this index, or whose name is or contains this text (None: default)."""
    devices = list_input_devices(sounddevice)
    if not devices:
        raise VoxtuneError(
            "no input device found (connect a microphone, or start PulseAudio/PipeWire)"
        )
    hint = "`voxtune live --list-devices` lists them"
    if device is None:
        return next((d for d in devices if d.is_default), devices[0])
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        found = [d for d in devices if d.index == int(device)]
    else:
        found = [d for d in devices if d.name == device] or [
            d for d in devices if device.lower() in d.name.lower()
        ]
    if not found:
        raise VoxtuneError(f"input device {device!r}: no such input device ({hint})")
    if len(found) > 1:
        names = ", ".join(f"{d.index}: {d.name}" for d in found)
        raise VoxtuneError(f"input device {device!r}: matches several ({names}); give its index")
    return found[0]


def _default_input_index(sd: ModuleType) -> int:
    try:
        return int(sd.query_devices(kind="input")["index"])
    except (ValueError, sd.PortAudioError):
        return -1


class MonoResampler:
    """Any-rate, any-width PCM blocks in, 16 kHz mono float32 out, continuous across blocks."""

    def __init__(self, rate: int, dtype: str = "float32") -> None:
        if dtype not in _FULL_SCALE:
            raise ValueError(f"sample format must be one of {sorted(_FULL_SCALE)}, not {dtype}")
        self.rate = rate
        self._scale = _FULL_SCALE[dtype]
        self._resampler: Any = None
        if rate != SAMPLING_RATE:
            import av

            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLING_RATE)

    def process(self, frames: np.ndarray) -> np.ndarray:
        """``frames``: shape ``(n, channels)`` as the device delivered them."""
        # Averaging channels ourselves: swresample's stereo-to-mono matrix scales by 1/sqrt(2).
        mono = frames.mean(axis=1, dtype=np.float32) if frames.ndim == 2 else frames
        mono = np.asarray(mono, dtype=np.float32)
        if self._scale != 1.0:
            mono = mono / np.float32(self._scale)
        if self._resampler is None or mono.size == 0:
            return np.ascontiguousarray(mono, dtype=np.float32)
        import av

        frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self.rate
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        """The samples still inside the resampler's filter, at the end of the stream."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[Any]) -> np.ndarray:
        if not frames:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)


class CaptureBuffer:
    """What the PortAudio callback writes into, and what the reader turns into 16 kHz mono.

    The callback only copies the block into the ring buffer (never waits, never allocates
    beyond PortAudio's own array); conversion and resampling happen on the reader's thread.
    """

    def __init__(
        self, rate: int, channels: int, dtype: str = "float32", buffer_seconds: float = 30.0
    ) -> None:
        self.ring = RingBuffer(int(rate * buffer_seconds), channels, dtype)
        self.resampler = MonoResampler(rate, dtype)
        self.overflows = 0  # blocks PortAudio itself reported as overflowed
        self.level = SILENCE_DBFS
        self._flushed = False

    def callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        self.ring.write(indata)

    @property
    def dropped_frames(self) -> int:
        """Native-rate frames lost because the reader fell behind the whole buffer."""
        return self.ring.dropped

    def read(self, timeout: float | None, ended: bool) -> np.ndarray | None:
        """Audio since the last read; ``ended``: no more will come, so drain and then None."""
        if not ended and not self.ring.wait(timeout):
            return np.zeros(0, dtype=np.float32)
        audio = self.resampler.process(self.ring.read())
        if ended and self.ring.available == 0:
            if self._flushed and audio.size == 0:
                return None
            self._flushed = True
            audio = np.concatenate((audio, self.resampler.flush()))
        if audio.size:
            self.level = level_dbfs(audio)
        return audio


class _StartStopContext:
    """``with source:`` starts it and stops it, whatever happens inside."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class MicrophoneSource(_StartStopContext):
    """A PortAudio input stream (any device, any rate), read as 16 kHz mono float32."""

    sampling_rate = SAMPLING_RATE

    def __init__(
        self,
        device: int | str | None = None,
        *,
        sounddevice: ModuleType | None = None,
        samplerate: int | None = None,
        channels: int | None = None,
        dtype: str = "float32",
        buffer_seconds: float = 30.0,
    ) -> None:
        self._sd = sounddevice or load_sounddevice()
        self.device = find_input_device(device, self._sd)
        self.samplerate = int(samplerate or self.device.default_samplerate)
        self.channels = channels or self._pick_channels()
        self.dtype = dtype
        self.capture = CaptureBuffer(self.samplerate, self.channels, dtype, buffer_seconds)
        self._stream: Any = None
        self._ended = False

    @property
    def level(self) -> float:
        return self.capture.level

    def start(self) -> None:
        sd = self._sd
        try:
            self._stream = sd.InputStream(
                device=self.device.index,
                samplerate=self.samplerate,
                channels=self.channels,
                dtype=self.dtype,
                callback=self.capture.callback,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise VoxtuneError(
                f"input device {self.device.index} ({self.device.name}): cannot record ({exc})"
            ) from exc

    def stop(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(self._sd.PortAudioError):
                self._stream.stop()
                self._stream.close()
        self._ended = True
        self.capture.ring.wake()

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        # A stream that died by itself (device unplugged) has ended as surely as a stopped one.
        ended = self._ended or (self._stream is not None and not self._stream.active)
        return self.capture.read(timeout, ended)

    def _pick_channels(self) -> int:
        # Mono costs least; a raw hardware device may insist on its own channel count.
        try:
            self._sd.check_input_settings(
                device=self.device.index, channels=1, samplerate=self.samplerate
            )
            return 1
        except Exception:
            return min(self.device.channels, 2)


# --- file -----------------------------------------------------------------------------------


class FileSource(_StartStopContext):
    """A file played as a microphone would hear it: at real time, N× speed, or unpaced.

    ``speed=None`` hands the audio out as fast as it is read, one block a call. A slow reader
    gets everything that has "arrived" since its last call, as it would from a microphone.
    """

    sampling_rate = SAMPLING_RATE

    def __init__(
        self,
        path: str | Path,
        *,
        speed: float | None = 1.0,
        block_seconds: float = 0.1,
        start: float = 0.0,
        max_read_seconds: float = 30.0,
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive (or None for unpaced), not {speed}")
        self.path = Path(path)
        self.speed = speed
        self.block = max(1, int(block_seconds * SAMPLING_RATE))
        # A reader that fell far behind gets this much a call, the rest on later calls.
        self.max_read = max(self.block, int(max_read_seconds * SAMPLING_RATE))
        self.offset = start
        self.level = SILENCE_DBFS
        self._pending = np.zeros(0, dtype=np.float32)
        self._delivered = 0
        self._started_at: float | None = None
        self._exhausted = False
        self._stopped = False
        from voxtune.engine.audio import iter_audio

        self._chunks: Iterator[np.ndarray] | None = iter(
            iter_audio(self.path, sampling_rate=SAMPLING_RATE, chunk_seconds=5.0, start=start)
        )
        self._fill(self.block)  # a bad file fails here, before anyone waits on it

    @property
    def delivered_seconds(self) -> float:
        return self._delivered / SAMPLING_RATE

    def start(self) -> None:
        """Start the clock: audio "arrives" from now on."""
        self._started_at = time.monotonic()

    def stop(self) -> None:
        self._stopped = True
        self._chunks = None

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        if self._started_at is None:
            raise RuntimeError("FileSource.read() before start()")
        if self._stopped or (self._exhausted and self._pending.size == 0):
            return None
        want = self._due() - self._delivered
        if want <= 0 and self.speed is not None:
            next_at = self._started_at + (self._delivered + self.block) / (
                SAMPLING_RATE * self.speed
            )
            wait = max(0.0, next_at - time.monotonic())
            time.sleep(wait if timeout is None else min(wait, timeout))
            want = self._due() - self._delivered
            if want <= 0:
                return np.zeros(0, dtype=np.float32)
        want = min(want, self.max_read)
        self._fill(want)
        audio, self._pending = self._pending[:want], self._pending[want:]
        self._delivered += audio.size
        if audio.size:
            self.level = level_dbfs(audio)
        return audio

    def _due(self) -> int:
        """Samples that would have arrived by now, in whole blocks, as a device delivers them."""
        if self.speed is None:
            return self._delivered + self.block
        elapsed = (time.monotonic() - (self._started_at or 0.0)) * self.speed * SAMPLING_RATE
        return int(elapsed // self.block) * self.block

    def _fill(self, count: int) -> None:
        parts = [self._pending]
        have = self._pending.size
        while have < count and not self._exhausted and self._chunks is not None:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._exhausted = True
                break
            parts.append(chunk)
            have += chunk.size
        self._pending = np.concatenate(parts) if len(parts) > 1 else self._pending
