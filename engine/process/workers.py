"""Background workers of the engine process: long tasks off the command thread.

A model download, an import or a tune can take minutes; the command thread must keep
answering Stop, Cancel and Shutdown meanwhile. Each ``Worker`` is one daemon thread that runs
its tasks in order and turns a failure into events: a ``VoxtuneError`` becomes an
``EngineError`` (one line), anything else also a ``Log`` with the traceback, so an internal
error reaches the app's log instead of a stderr nobody reads.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable

from voxtune.engine import protocol as p
from voxtune.engine.errors import VoxtuneError

Emit = Callable[[p.Event], None]
Task = Callable[[], None]


def report_failure(emit: Emit, command: p.Command, exc: BaseException) -> None:
    """The events a failed command leaves: the message for the user, the traceback for the log."""
    if isinstance(exc, VoxtuneError):
        emit(p.EngineError(message=str(exc), reply_to=command.seq))
        return
    trace = "".join(traceback.format_exception(exc))
    emit(p.Log(level="error", message=f"{command.kind} failed:\n{trace}"))
    emit(
        p.EngineError(
            message=f"{command.kind}: internal error ({type(exc).__name__}: {exc})",
            reply_to=command.seq,
        )
    )


class Worker:
    def __init__(self, name: str, emit: Emit) -> None:
        self.name = name
        self._emit = emit
        self._tasks: queue.Queue[tuple[p.Command, Task] | None] = queue.Queue()
        self._busy = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, command: p.Command, task: Task) -> None:
        self._tasks.put((command, task))

    @property
    def busy(self) -> bool:
        return self._busy.is_set() or not self._tasks.empty()

    def stop(self, timeout: float | None = None) -> None:
        """Run no further task; wait up to ``timeout`` for the current one."""
        self._tasks.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._tasks.get()) is not None:
            command, task = item
            self._busy.set()
            try:
                task()
            except Exception as exc:
                report_failure(self._emit, command, exc)
            finally:
                self._busy.clear()
