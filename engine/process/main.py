"""The engine process body: commands in, events out, a heartbeat, the job runner.

Three threads: this one reads commands, a heartbeat thread says "alive" every
``heartbeat_s`` (and ends the process if its parent died), and the runner's worker thread
transcribes. Imports of torch and friends happen here, in the child, after the first
heartbeat: the client sees a live engine while it warms up.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.queues import Queue
from typing import TYPE_CHECKING

from voxtune.engine import protocol as p
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.process.config import EngineConfig

if TYPE_CHECKING:
    from voxtune.engine.jobs.runner import BatchRunner
    from voxtune.engine.process.live import LiveSession

STOP_TIMEOUT_S = 10.0  # a Shutdown waits this long for the running window to finish
ORPHAN_GRACE_S = 3.0  # after the parent died: time to release the running job, then exit


class Outbox:
    """Numbers events in the order they are queued; shared by all threads."""

    def __init__(self, events: Queue) -> None:
        self._events = events
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def emit(self, event: p.Event) -> None:
        with self._lock:
            self._events.put(replace(event, seq=next(self._seq)))


class LogForwarder(logging.Handler):
    """Warnings logged anywhere in the engine travel to the client as Log events."""

    def __init__(self, emit: Callable[[p.Event], None]) -> None:
        super().__init__(level=logging.WARNING)
        self._emit = emit

    def emit(self, record: logging.LogRecord) -> None:
        self._emit(p.Log(level=record.levelname.lower(), message=self.format(record)))


def serve(commands: Queue, events: Queue, config: EngineConfig) -> None:
    """The process target (spawn): runs until Shutdown, or until the parent is gone."""
    # Ctrl-C in a terminal reaches the whole process group; the parent handles it and
    # shuts the engine down in order, releasing the running job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    outbox = Outbox(events)
    outbox.emit(p.EngineReady(pid=os.getpid()))
    engine = Engine(config, outbox)
    heart = threading.Thread(target=engine.beat, name="voxtune-heartbeat", daemon=True)
    heart.start()
    logging.getLogger().addHandler(LogForwarder(outbox.emit))
    try:
        engine.start()
        engine.read(commands)
    finally:
        engine.stop()
    if engine.orphaned.is_set():
        os._exit(0)  # nobody reads the events queue: flushing it could block forever
    events.close()
    events.join_thread()


class Engine:
    def __init__(self, config: EngineConfig, outbox: Outbox) -> None:
        self.config = config
        self.outbox = outbox
        self.runner: BatchRunner | None = None
        self.live: LiveSession | None = None
        self.done = threading.Event()
        self.orphaned = threading.Event()

    def start(self) -> None:
        if self.config.threads:
            import torch

            torch.set_num_threads(self.config.threads)
        from voxtune.engine.jobs.runner import BatchRunner
        from voxtune.engine.jobs.store import JobStore

        try:
            store = JobStore(self.config.db_path)
        except VoxtuneError as exc:
            self.outbox.emit(p.EngineError(message=str(exc)))
            raise SystemExit(2) from exc
        self.runner = BatchRunner(store, self.outbox.emit, self.config)
        self.runner.start()

    def stop(self) -> None:
        self.done.set()
        if self.live is not None:
            self.live.stop(STOP_TIMEOUT_S)
        if self.runner is not None:
            self.runner.stop(ORPHAN_GRACE_S if self.orphaned.is_set() else STOP_TIMEOUT_S)
            self.runner.store.close()

    def beat(self) -> None:
        parent = multiprocessing.parent_process()
        while not self.done.wait(self.config.heartbeat_s):
            jobs = self.runner.current_jobs if self.runner else ()
            self.outbox.emit(p.Heartbeat(pid=os.getpid(), job_id=jobs[0] if jobs else None))
            if parent is not None and not parent.is_alive():
                self.orphaned.set()
                self.done.set()
        if self.orphaned.is_set():
            # The command thread stops the runner; if that hangs, do not outlive the parent.
            threading.Timer(ORPHAN_GRACE_S * 2, os._exit, args=(0,)).start()

    def read(self, commands: Queue) -> None:
        while not self.done.is_set():
            try:
                command = commands.get(timeout=self.config.heartbeat_s)
            except queue.Empty:
                continue
            if isinstance(command, p.Shutdown):
                return
            try:
                self.handle(command)
            except VoxtuneError as exc:
                self.outbox.emit(p.EngineError(message=str(exc), reply_to=command.seq))
            except Exception as exc:
                self.outbox.emit(p.Log(level="error", message=traceback.format_exc()))
                self.outbox.emit(
                    p.EngineError(
                        message=f"{command.kind}: internal error ({type(exc).__name__}: {exc})",
                        reply_to=command.seq,
                    )
                )

    def handle(self, command: p.Command) -> None:
        if not isinstance(command, p.Command):
            raise VoxtuneError(f"not a command: {type(command).__name__}")
        if command.version != p.PROTOCOL_VERSION:
            raise VoxtuneError(
                f"{command.kind}: protocol version {command.version}, "
                f"the engine speaks {p.PROTOCOL_VERSION}"
            )
        runner = self.runner
        assert runner is not None
        match command:
            case p.Ping():
                self.outbox.emit(p.Pong(reply_to=command.seq))
            case p.LoadModel(name=name):
                runner.request_model(name, command.seq)
            case p.SubmitJob(spec=spec, priority=priority):
                job = runner.submit(spec, priority)
                self.outbox.emit(p.JobQueued(job=job, reply_to=command.seq))
            case p.CancelJob(job_id=job_id):
                runner.cancel(job_id)
            case p.RetryJob(job_id=job_id):
                self.outbox.emit(p.JobQueued(job=runner.retry(job_id), reply_to=command.seq))
            case p.RerunJob(job_id=job_id, options=options, model=model):
                job = runner.rerun(job_id, options, model)
                self.outbox.emit(p.JobQueued(job=job, reply_to=command.seq))
            case p.StartLive():
                if self.live is not None and self.live.running:
                    raise VoxtuneError("start_live: a live session is already running")
                from voxtune.engine.process.live import LiveSession

                self.live = LiveSession(command, self.outbox.emit, self.config)
                self.live.start()
            case p.StopLive():
                if self.live is None or not self.live.running:
                    raise VoxtuneError("stop_live: no live session is running")
                self.live.stop()
                self.live = None
            case _:
                raise VoxtuneError(f"{command.kind}: unknown command")
