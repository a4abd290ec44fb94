"""A tune inside the engine process: ``run_tune`` on its own thread, progress as events.

Each event of ``voxtune.engine.tune.events`` (step with loss and ETA, evaluation with WER, …)
travels as ``TuneProgress``; the end is one ``TuneResult``: finished with its summary,
stopped by ``StopTune`` (at the next step), or failed with one line (and a traceback in the
log for an internal error). One tune at a time.
"""

from __future__ import annotations

import threading
import traceback

from voxtune.engine import protocol as p
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.process.workers import Emit


class TuneSession:
    def __init__(self, command: p.StartTune, emit: Emit) -> None:
        self._command = command
        self._emit = emit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voxtune-tune", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        from voxtune.engine.tune import run_tune
        from voxtune.engine.tune.events import TuneFinished

        seq = self._command.seq
        result = p.TuneResult(stopped=True, reply_to=seq)
        try:
            updates = run_tune(self._command.config)
            try:
                for update in updates:
                    if isinstance(update, TuneFinished):
                        result = p.TuneResult(summary=update, reply_to=seq)
                        continue
                    self._emit(p.TuneProgress(update=update, reply_to=seq))
                    if self._stop.is_set():
                        break
            finally:
                updates.close()  # a stopped tune releases its model and files now
        except VoxtuneError as exc:
            result = p.TuneResult(error=str(exc), reply_to=seq)
        except Exception as exc:
            trace = "".join(traceback.format_exception(exc))
            self._emit(p.Log(level="error", message=f"start_tune failed:\n{trace}"))
            result = p.TuneResult(
                error=f"tune failed (internal error: {type(exc).__name__}: {exc})", reply_to=seq
            )
        self._emit(result)
