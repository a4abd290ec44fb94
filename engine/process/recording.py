"""Recording one take for the tuning wizard: the microphone into a wav, checked.

``StartRecording`` opens the input (the same ``MicrophoneSource`` live transcription uses)
on a thread of its own, sends ``RecordingLevel`` ten times a second for the meter, and keeps
the audio; ``StopRecording`` ends the take, which is written (16 kHz mono, 16-bit wav,
atomically) and checked for clipping, silence and length: ``RecordingSaved`` says how it went.
"""

from __future__ import annotations

import io
import threading
import time
import wave
from typing import TYPE_CHECKING

from voxtune.engine import protocol as p
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.process.workers import Emit

if TYPE_CHECKING:
    import numpy as np

RATE = 16000
LEVEL_EVERY_S = 0.1
MAX_SECONDS = 120.0  # a take nobody stopped ends here (a sentence is seconds)


class Recorder:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def recording(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self, command: p.StartRecording) -> None:
        from voxtune.engine.audio.sources import MicrophoneSource

        with self._lock:
            if self.recording:
                raise VoxtuneError("start_recording: already recording")
            source = MicrophoneSource(command.device)  # a missing device fails here, at once
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(command, source, self._stop), name="voxtune-recording",
                daemon=True,
            )  # fmt: skip
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread = self._thread
            self._stop.set()
        if thread is not None:
            thread.join(timeout)

    def _run(self, command: p.StartRecording, source: object, stop: threading.Event) -> None:
        try:
            audio = self._record(source, stop)
            saved = save_take(command, audio)
        except Exception as exc:  # the wizard must hear how the take ended, whatever happened
            saved = p.RecordingSaved(
                path=command.path, error=f"cannot record {command.path}: {exc}",
                reply_to=command.seq,
            )  # fmt: skip
        self._emit(saved)

    def _record(self, source, stop: threading.Event) -> np.ndarray:  # type: ignore[no-untyped-def]
        import numpy as np

        pieces: list[np.ndarray] = []
        recorded, metered = 0, time.monotonic()
        with source:
            # The first level says the stream is open: what is said from now on is recorded.
            self._emit(p.RecordingLevel(dbfs=float(source.level)))
            while not stop.is_set() and recorded < MAX_SECONDS * RATE:
                piece = source.read(LEVEL_EVERY_S)
                if piece is None:  # the device went away
                    break
                pieces.append(piece)
                recorded += piece.size
                if time.monotonic() - metered >= LEVEL_EVERY_S:
                    metered = time.monotonic()
                    self._emit(p.RecordingLevel(dbfs=float(source.level)))
        while (piece := source.read(LEVEL_EVERY_S)) is not None:  # what the stop left behind
            pieces.append(piece)
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def save_take(command: p.StartRecording, audio: np.ndarray) -> p.RecordingSaved:
    import numpy as np

    from voxtune.engine.atomic import write_bytes
    from voxtune.engine.audio.recording_check import check_recording

    check = check_recording(audio, RATE)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm.tobytes())
    write_bytes(command.path, buffer.getvalue())
    return p.RecordingSaved(
        path=command.path,
        seconds=check.seconds,
        peak_dbfs=check.peak_dbfs,
        warnings=check.warnings,
        reply_to=command.seq,
    )
