"""Playing a stretch of a file for the transcript editor, on the default output device.

The UI's PySide6-Essentials has no QtMultimedia, so the engine plays: PyAV decodes the span,
sounddevice (PortAudio) plays it, and the position goes to the UI about twenty times a second
so the editor can highlight the word being heard.
"""

from __future__ import annotations

import threading
import time

from voxtune.engine import protocol as p
from voxtune.engine.process.workers import Emit

RATE = 16000
POSITION_EVERY_S = 0.05


class Player:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def play(self, command: p.PlayAudio) -> None:
        """Stop what is playing, then play ``command``'s span on a thread of its own."""
        self.stop()
        with self._lock:
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(command, self._stop), name="voxtune-playback", daemon=True
            )
            self._thread.start()

    @property
    def playing(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout)

    def _run(self, command: p.PlayAudio, stop: threading.Event) -> None:
        try:
            self._play(command, stop)
        except Exception as exc:  # no device, a bad file: the editor says so and goes on
            self._emit(p.PlaybackStopped(error=f"cannot play {command.path}: {exc}"))
            return
        self._emit(p.PlaybackStopped())

    def _play(self, command: p.PlayAudio, stop: threading.Event) -> None:
        import numpy as np
        import sounddevice as sd

        from voxtune.engine.audio import decode_audio

        audio = decode_audio(command.path, RATE, command.start, command.end)
        played = 0
        finished = threading.Event()

        def callback(out: np.ndarray, frames: int, _time: object, _status: object) -> None:
            nonlocal played
            piece = audio[played : played + frames]
            out[: len(piece), 0] = piece
            out[len(piece) :, 0] = 0.0
            played += len(piece)
            if played >= len(audio) or stop.is_set():
                raise sd.CallbackStop

        with sd.OutputStream(
            samplerate=RATE, channels=1, dtype="float32", callback=callback,
            finished_callback=finished.set,
        ):  # fmt: skip
            # A stream whose device went away may never call back again: give up in time.
            deadline = time.monotonic() + len(audio) / RATE + 5.0
            while not finished.wait(POSITION_EVERY_S):
                if time.monotonic() > deadline:
                    raise TimeoutError("the output device stopped playing")
                self._emit(p.PlaybackPosition(seconds=command.start + played / RATE))
        self._emit(p.PlaybackPosition(seconds=command.start + played / RATE))
