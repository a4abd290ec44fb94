"""A tune inside the engine process: ``run_tune`` on its own thread, progress as events.

Each event of ``voxtune.engine.tune.events`` (step with loss and ETA, evaluation with WER, …)
travels as ``TuneProgress``; the end is one ``TuneResult``: finished with its summary,
stopped by ``StopTune`` (after the current step, the best weights so far evaluated and saved:
the app's Stop & save), or failed with one line (and a traceback in the log for an internal
error). Shutting the engine down abandons the run without saving; its checkpoints stay for
``resume``. One tune at a time.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from types import ModuleType
from typing import Any

from voxtune.engine import protocol as p
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.process.workers import Emit


class TuneSession:
    def __init__(self, command: p.StartTune, emit: Emit) -> None:
        self._command = command
        self._emit = emit
        self._stop = threading.Event()  # abandon (engine shutdown)
        self._save_and_stop = threading.Event()  # StopTune: end early, keep what was learnt
        self._thread = threading.Thread(target=self._run, name="voxtune-tune", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def stop_and_save(self) -> None:
        self._save_and_stop.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        from voxtune.engine.tune import run_tune
        from voxtune.engine.tune.events import TuneFinished

        seq = self._command.seq
        result = p.TuneResult(stopped=True, reply_to=seq)
        try:
            updates = run_tune(self._command.config, should_stop=self._save_and_stop.is_set)
            try:
                for update in updates:
                    if isinstance(update, TuneFinished):
                        stopped = self._save_and_stop.is_set()
                        result = p.TuneResult(summary=update, stopped=stopped, reply_to=seq)
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


def check_data_task(command: p.CheckTuneData, emit: Emit) -> Callable[[], None]:
    """The Data step's check, for a worker: a data set that cannot be read is a report too."""
    return _answer_task(
        lambda: _preflight().check_tune_data(command.config),
        lambda checked: p.TuneDataReport(checked=checked, reply_to=command.seq),
        lambda error: p.TuneDataReport(error=error, reply_to=command.seq),
        emit,
    )


def estimate_task(command: p.EstimateTune, emit: Emit) -> Callable[[], None]:
    """The Plan step's measured estimate, for a worker."""
    return _answer_task(
        lambda: _preflight().estimate_tune(command.config),
        lambda estimate: p.TuneEstimated(estimate=estimate, reply_to=command.seq),
        lambda error: p.TuneEstimated(error=error, reply_to=command.seq),
        emit,
    )


def _preflight() -> ModuleType:
    # Imported on the worker, not the command thread: it loads torch.
    from voxtune.engine.tune import preflight

    return preflight


def _answer_task(
    compute: Callable[[], object],
    answer: Callable[[Any], p.Event],
    refusal: Callable[[str], p.Event],
    emit: Emit,
) -> Callable[[], None]:
    """A worker task whose one event carries ``compute``'s result, or its one-line refusal
    (a VoxtuneError); other exceptions reach the worker, which logs them."""

    def task() -> None:
        try:
            result = compute()
        except VoxtuneError as exc:
            emit(refusal(str(exc)))
            return
        emit(answer(result))

    return task
