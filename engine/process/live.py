"""A live session inside the engine process: a source, a streaming transcriber, a thread.

``StartLive`` opens the microphone (or plays a file as one), and the session streams
``LiveUpdate`` events until ``StopLive`` or the end of the file, then flushes what is left
and says ``LiveStopped``. The audio level travels as ``LiveLevel`` ten times a second, for
the meter. One session at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from voxtune.engine import protocol as p
from voxtune.engine.config import EngineConfig
from voxtune.engine.errors import VoxtuneError

LEVEL_INTERVAL_S = 0.1


class LiveSession:
    def __init__(
        self, command: p.StartLive, emit: Callable[[p.Event], None], config: EngineConfig
    ) -> None:
        """The model is built as ``voxtune live`` builds it: the same aligner rule, the
        engine's device and dtype, the command's step."""
        from voxtune.engine.audio.sources import FileSource, MicrophoneSource
        from voxtune.engine.models import ModelRequest, build_model
        from voxtune.engine.stream import StreamingOptions
        from voxtune.engine.stream.updates import live_transcription_options

        self.emit = emit
        options = StreamingOptions(
            step_seconds=command.step_seconds,
            transcription=replace(
                live_transcription_options(),
                language=command.options.language,
                beam_size=command.options.beam_size,
            ),
        )
        request = ModelRequest(
            name=command.model,
            backend=config.backend,
            dtype=config.dtype,
            device=config.device,
            aligner=command.aligner,
        )
        ready = build_model(request, options.transcription)
        self.transcriber = ready.streaming_transcriber(options)
        if command.file is not None:
            self.source = FileSource(command.file, speed=command.speed)
            self.name = str(command.file)
        else:
            self.source = MicrophoneSource(command.device)
            self.name = self.source.device.name
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voxtune-live", daemon=True)

    def start(self) -> None:
        self.source.start()
        self.emit(p.LiveStarted(sample_rate=self.source.sampling_rate, device=self.name))
        self._thread.start()
        threading.Thread(target=self._meter, name="voxtune-meter", daemon=True).start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop listening; the words heard so far are still decoded and committed."""
        self._stopped.set()
        self.source.stop()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _meter(self) -> None:
        while not self._stopped.wait(LEVEL_INTERVAL_S) and self._thread.is_alive():
            self.emit(p.LiveLevel(dbfs=float(self.source.level)))

    def _run(self) -> None:
        error = None
        try:
            for update in self.transcriber.run(self.source):
                self.emit(p.LiveUpdate(committed=update.committed, partial=update.partial))
        except VoxtuneError as exc:
            error = str(exc)
        except Exception as exc:  # a live session must end with LiveStopped, whatever happens
            error = f"live transcription failed ({type(exc).__name__}: {exc})"
        finally:
            self._stopped.set()
            self.source.stop()
            self.emit(p.LiveStopped(error=error))
