"""The engine process body: commands in, events out, a heartbeat, the job runner.

This thread reads commands and answers each at once; a heartbeat thread says "alive" every
``heartbeat_s`` (and ends the process if its parent died); the runner's worker thread
transcribes; anything that may take long — loading a live model, importing or pulling a
model, tuning — runs on a worker of its own (``workers``), so Stop, Cancel and Shutdown are
answered while it runs. Imports of torch and friends happen here, in the child, after the
first heartbeat: the client sees a live engine while it warms up.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.queues import Queue
from typing import TYPE_CHECKING

from voxtune.engine import protocol as p
from voxtune.engine.config import EngineConfig
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.process.devices import DeviceWatcher
from voxtune.engine.process.live_transcript import LiveTranscript
from voxtune.engine.process.model_tasks import ModelTasks
from voxtune.engine.process.playback import Player
from voxtune.engine.process.recording import Recorder
from voxtune.engine.process.workers import Worker, report_failure

if TYPE_CHECKING:
    from voxtune.engine.jobs.runner import BatchRunner
    from voxtune.engine.process.live import LiveSession
    from voxtune.engine.process.tuning import TuneSession

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
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

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
    if engine.busy:
        # A load or download is still running on a worker: the events are flushed, and
        # waiting for it (or for interpreter shutdown beside it) would only delay the exit.
        os._exit(0)


class Engine:
    def __init__(self, config: EngineConfig, outbox: Outbox) -> None:
        self.config = config
        self.outbox = outbox
        self.runner: BatchRunner | None = None
        self.live: LiveSession | None = None
        self.live_loading: p.StartLive | None = None  # a StartLive whose model is loading
        self.live_words = LiveTranscript()
        self.live_model = ""
        self.tune: TuneSession | None = None
        self.done = threading.Event()
        self.orphaned = threading.Event()
        self._lock = threading.Lock()
        self.live_worker = Worker("voxtune-live-load", outbox.emit)
        self.models = ModelTasks(outbox.emit)
        self.tune_checks = Worker("voxtune-tune-check", outbox.emit)  # the wizard's checks
        self.player = Player(outbox.emit)
        self.recorder = Recorder(outbox.emit)  # the wizard's takes
        self.exports = Worker("voxtune-export", outbox.emit)
        self.devices = DeviceWatcher(outbox.emit, self._stream_open)

    @property
    def busy(self) -> bool:
        """A worker still runs a long task (a load, an import, a pull)."""
        workers = (self.live_worker, self.models.worker, self.tune_checks, self.exports)
        return any(worker.busy for worker in workers)

    def _stream_open(self) -> bool:
        # A device rescan restarts PortAudio, which would cut off a stream playing or recording.
        if self.player.playing or self.recorder.recording:
            return True
        return self.live_loading is not None or (self.live is not None and self.live.running)

    def emit_live(self, event: p.Event) -> None:
        """The live session's events: kept for SaveLive, then sent."""
        self.live_words.observe(event)
        self.outbox.emit(event)

    def start(self) -> None:
        from voxtune.engine.torch_threads import set_torch_threads

        set_torch_threads(self.config.threads)  # once, before any thread runs a model
        from voxtune.engine.jobs.runner import BatchRunner
        from voxtune.engine.jobs.store import JobStore

        try:
            store = JobStore(self.config.db_path)
            if self.config.cluster:  # jobs run on Ray workers; ray loads here, not in the UI
                from voxtune.engine.cluster.runner import ClusterRunner

                self.runner = ClusterRunner(store, self.outbox.emit, self.config)
            else:
                self.runner = BatchRunner(store, self.outbox.emit, self.config)
            self.runner.start()
        except VoxtuneError as exc:
            self.outbox.emit(p.EngineError(message=str(exc)))
            raise SystemExit(2) from exc

    def stop(self) -> None:
        self.done.set()
        self.devices.stop()
        self.player.stop()
        self.recorder.stop()
        with self._lock:
            self.live_loading = None  # a session still loading is dropped when it is ready
        if self.live is not None:
            self.live.stop(STOP_TIMEOUT_S)
        if self.tune is not None:
            self.tune.stop(STOP_TIMEOUT_S)
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
            except Exception as exc:
                report_failure(self.outbox.emit, command, exc)

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
                self.start_live(command)
            case p.StopLive():
                self.stop_live()
            case p.ListJobs():
                jobs = tuple(runner.store.jobs())
                self.outbox.emit(p.JobsListed(jobs=jobs, reply_to=command.seq))
            case p.ListModels():
                self.models.list(command)
            case p.ImportModel():
                self.models.import_folder(command)
            case p.PullModel():
                self.models.pull(command)
            case p.RemoveModel():
                self.models.remove(command)
            case p.CancelModelTask(task=task):
                self.models.cancel(task)
            case p.ListDevices():
                self.devices.answer(command)
            case p.SaveLive():
                self.outbox.emit(self.live_words.save(command, self.live_model))
            case p.ClearLive():
                self.live_words.clear(self.live_words.file)
            case p.OpenLive():
                self.outbox.emit(self.live_words.open(command, self.live_model))
            case p.OpenTranscript():
                from voxtune.engine.process.transcripts import open_transcript

                self.outbox.emit(open_transcript(runner.store, command))
            case p.SaveTranscript():
                from voxtune.engine.process.transcripts import save_transcript

                self.outbox.emit(save_transcript(runner.store, command))
            case p.PlayAudio():
                self.player.play(command)
            case p.StopAudio():
                self.player.stop()
            case p.ClearJobs():
                runner.store.clear()
                jobs = tuple(runner.store.jobs())
                self.outbox.emit(p.JobsListed(jobs=jobs, reply_to=command.seq))
            case p.StartTune():
                if self.tune is not None and self.tune.running:
                    raise VoxtuneError("start_tune: a tune is already running")
                from voxtune.engine.process.tuning import TuneSession

                self.tune = TuneSession(command, self.outbox.emit)
                self.tune.start()
            case p.StopTune():
                if self.tune is None or not self.tune.running:
                    raise VoxtuneError("stop_tune: no tune is running")
                # After this step the best weights are evaluated and saved, then
                # TuneResult(stopped=True) carries their summary.
                self.tune.stop_and_save()
            case p.CheckTuneData():
                from voxtune.engine.process.tuning import check_data_task

                self.tune_checks.submit(command, check_data_task(command, self.outbox.emit))
            case p.EstimateTune():
                from voxtune.engine.process.tuning import estimate_task

                self.tune_checks.submit(command, estimate_task(command, self.outbox.emit))
            case p.StartRecording():
                self.recorder.start(command)
            case p.StopRecording():
                self.recorder.stop()
            case p.ExportModel():
                from voxtune.engine.process.exporting import export_task

                self.exports.submit(command, export_task(command, self.outbox.emit))
            case _:
                raise VoxtuneError(f"{command.kind}: unknown command")

    # -- live ---------------------------------------------------------------------------

    def start_live(self, command: p.StartLive) -> None:
        """Load the model on the live worker (maybe a download), then start the stream."""
        with self._lock:
            if self.live_loading is not None or (self.live is not None and self.live.running):
                raise VoxtuneError("start_live: a live session is already running")
            self.live_loading = command
        self.live_words.clear(command.file)
        self.live_model = command.model

        def task() -> None:
            from voxtune.engine.process.live import LiveSession

            try:
                session = LiveSession(command, self.emit_live, self.config)
            except BaseException:
                with self._lock:
                    wanted = self.live_loading is command
                    self.live_loading = None
                if wanted:
                    raise
                return  # stopped while loading: LiveStopped was sent then
            with self._lock:
                if self.live_loading is not command:
                    return  # StopLive or Shutdown came while the model loaded
                self.live_loading = None
                self.live = session
            session.start()

        self.live_worker.submit(command, task)

    def stop_live(self) -> None:
        with self._lock:
            if self.live_loading is not None:
                self.live_loading = None  # the worker drops the session once it is built
                self.outbox.emit(p.LiveStopped())
                return
            live, self.live = self.live, None
        if live is None or not live.running:
            raise VoxtuneError("stop_live: no live session is running")
        live.stop()
