"""``ClusterRunner``: the job queue of one engine process, run by Ray workers.

Everything but the transcription stays here, as on one machine: the queue order and length
buckets (``BatchRunner._next_unit``), claims, every window's segments and checkpoint persisted
before the next is asked for, cancel, release on stop, requeue after a crash, and the output
files, written from the store by the same writer. So a run on the cluster and a local run
leave byte-identical outputs (with the same batch size and threads per worker), and the
store answers for progress, cancel, retry and resume whichever side is killed:

* the client (or this engine) killed: its jobs stay ``running`` under a dead pid; the next
  engine requeues them and long files resume from their last persisted window;
* a worker killed: its task fails with a Ray error; the job is requeued (the attempt counts,
  as an engine crash does) and resumes on whichever worker is free, from its checkpoint;
* the head lost: Ray ends this driver's connection; the engine stops, its jobs requeue.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import ray

from voxtune.engine import protocol as p
from voxtune.engine.cluster.pool import Slot, connect, disconnect, start_workers
from voxtune.engine.cluster.tasks import AudioSource, ClipResult, LongOutcome, LongProgress
from voxtune.engine.config import EngineConfig
from voxtune.engine.jobs.job import Job
from voxtune.engine.jobs.runner import BatchRunner, Emit, _naming
from voxtune.engine.jobs.store import MAX_ATTEMPTS, JobStore
from voxtune.engine.types import Checkpoint

POLL_S = 0.25  # how often running long files are asked for their new windows
DRAIN_S = 5.0  # on stop: time to fetch windows workers finished, so they are not redone


@dataclass
class Flight:
    """A task on a worker: a bucket of short files, or one long file."""

    task: int
    slot: Slot
    jobs: tuple[Job, ...]
    short: bool
    done: Any  # ObjectRef of the task's result
    duration: float = 0.0
    resumed_at: float = 0.0
    began: float = field(default_factory=time.monotonic)
    taking: Any = None  # ObjectRef of an unanswered ``take``
    last_language: str | None = None
    finished: bool = False  # the last window came back
    abandoned: bool = False  # cancelled or released: its results are dropped when it lands


class ClusterRunner(BatchRunner):
    def __init__(self, store: JobStore, emit: Emit, config: EngineConfig) -> None:
        super().__init__(store, emit, config)
        assert config.cluster is not None
        self.address = config.cluster
        self._slots: list[Slot] = []
        self._flights: dict[int, Flight] = {}
        self._task_ids = itertools.count(1)
        self._warming: list[tuple[list[Any], int]] = []  # (ObjectRefs, LoadModel seq)

    def start(self) -> None:
        """Join the cluster and start the workers (VoxtuneError: the engine cannot run)."""
        connect(self.address)
        self._slots = start_workers(self.config)
        self.emit(p.Log(level="info", message=f"{len(self._slots)} Ray workers on {self.address}"))
        super().start()

    def stop(self, timeout: float) -> None:
        super().stop(timeout)
        disconnect()

    # -- the worker thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            super()._run()
        finally:
            self._drain()

    def _serve_model_requests(self) -> bool:
        """The app's LoadModel: every worker loads it; the reply comes once all have."""
        with self._lock:
            requests, self._model_requests = self._model_requests, []
        for name, reply_to in requests:
            refs = [slot.actor.warm.remote(name, None) for slot in self._slots]
            self._warming.append((refs, reply_to))
        worked = bool(requests)
        for refs, reply_to in list(self._warming):
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            if len(ready) < len(refs):
                continue
            self._warming.remove((refs, reply_to))
            worked = True
            try:
                loaded = ray.get(refs)[-1]
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                self.emit(p.EngineError(message=_first_line(cause), reply_to=reply_to))
            except ray.exceptions.RayError as exc:
                self.emit(p.EngineError(message=_first_line(exc), reply_to=reply_to))
            else:
                if loaded is not None:
                    self.emit(replace(loaded, reply_to=reply_to))
        return worked

    def _run_next(self) -> bool:
        if not self.config.run_queue:
            return False
        worked = self._revive()
        worked |= self._land()
        worked |= self._poll()
        worked |= self._dispatch()
        if self._flights and not worked:
            refs = [f.done for f in self._flights.values()]
            ray.wait(refs, num_returns=1, timeout=POLL_S)
        return worked or bool(self._flights)

    def _probe(self, job: Job) -> None:
        super()._probe(job)
        self._close_opened(keep=())  # the worker decodes; no handle to keep open here

    # -- sending --------------------------------------------------------------------------

    def _dispatch(self) -> bool:
        worked = False
        while not self._stopping.is_set():
            slot = next((s for s in self._slots if s.idle), None)
            if slot is None:
                break
            unit = self._next_unit()
            if unit is None:
                break
            worked = True
            claimed = [j for j in (self._claim(job) for job in unit.jobs) if j is not None]
            if claimed:
                self._send(slot, claimed, unit.short)
        return worked

    def _sources(self, jobs: Sequence[Job]) -> list[tuple[Job, AudioSource]]:
        sent = []
        for job in jobs:
            try:
                sent.append((job, AudioSource.for_file(job.spec.input_path)))
            except OSError as exc:
                message = f"{job.spec.input_path}: cannot read ({exc.strerror or exc})"
                self._fail(job.id, message, retryable=False)
                self._release(job.id)
        return sent

    def _send(self, slot: Slot, jobs: Sequence[Job], short: bool) -> None:
        sources = self._sources(jobs)
        if not sources:
            return
        task = next(self._task_ids)
        spec = sources[0][0].spec
        if short:
            for job, _ in sources:
                self.emit(p.JobStarted(job_id=job.id, resume_from=0.0, duration=job.duration))
            done = slot.actor.transcribe_short.remote(
                task, [j.id for j, _ in sources], spec, [s for _, s in sources]
            )
            flight = Flight(task, slot, tuple(j for j, _ in sources), True, done)
        else:
            job, source = sources[0]
            saved = self.store.checkpoint(job.id)
            resumed_at = 0.0
            if saved is None:
                self.store.restart_from_zero(job.id)
            else:
                resumed_at = Checkpoint.from_json(saved).seek
            self.emit(p.JobStarted(job_id=job.id, resume_from=resumed_at, duration=job.duration))
            done = slot.actor.transcribe_long.remote(task, job.id, spec, source, saved)
            flight = Flight(
                task, slot, (job,), False, done, duration=job.duration or 0.0,
                resumed_at=resumed_at,
            )  # fmt: skip
        slot.task = task
        self._flights[task] = flight

    # -- long files: windows as they come ---------------------------------------------------

    def _poll(self) -> bool:
        worked = False
        for flight in list(self._flights.values()):
            if flight.short or flight.abandoned:
                continue
            if flight.taking is None:
                flight.taking = flight.slot.actor.take.remote(flight.task)
                continue
            ready, _ = ray.wait([flight.taking], timeout=0)
            if not ready:
                continue
            ref, flight.taking = flight.taking, None
            try:
                progress = ray.get(ref)
            except ray.exceptions.RayError:
                continue  # the worker is gone: the task's own result says so
            worked |= self._save_windows(flight, progress)
        return worked

    def _save_windows(self, flight: Flight, progress: LongProgress, draining: bool = False) -> bool:
        """Persist windows in order, as the local runner does after each; whether any came.

        ``draining``: the engine is stopping and keeps what is done before it releases the job.
        """
        job = flight.jobs[0]
        if progress.duration is not None:
            flight.duration = progress.duration
            self.store.set_duration(job.id, progress.duration)
        for window in progress.windows:
            if flight.abandoned:
                break
            duration = flight.duration
            done_s = duration if window.finished else min(window.seek, duration)
            fraction = done_s / duration if duration else 1.0
            if not self.store.save_progress(job.id, window.segments, fraction, window.checkpoint):
                self._abandon(flight)
                self._cancelled_elsewhere(job.id)
                break
            flight.last_language = window.language
            flight.finished = window.finished
            for segment in window.segments:
                self.emit(p.SegmentReady(job_id=job.id, segment=segment))
            if not window.finished:
                rate = (done_s - flight.resumed_at) / max(time.monotonic() - flight.began, 1e-6)
                eta = (duration - done_s) / rate if rate > 0 else None
                self.emit(
                    p.JobProgress(job_id=job.id, fraction=fraction, eta_s=eta, audio_done_s=done_s)
                )
            if not draining and self._stopped(job.id):
                self._abandon(flight)
                break
        return bool(progress.windows)

    def _abandon(self, flight: Flight) -> None:
        """Stop caring for a task (cancelled, released); the worker stops at its next window."""
        if not flight.abandoned:
            flight.abandoned = True
            flight.slot.actor.cancel.remote(flight.task)
            for job in flight.jobs:
                self._release(job.id)

    # -- results ----------------------------------------------------------------------------

    def _land(self) -> bool:
        """Take in every task that ended (done, failed, or its worker lost)."""
        worked = False
        for flight in list(self._flights.values()):
            ready, _ = ray.wait([flight.done], timeout=0)
            if not ready:
                if not flight.abandoned:
                    for job in flight.jobs:  # cancelled from here (CancelJob) or stopping
                        if self._should_stop(job.id) and self._stopped(job.id):
                            self._abandon(flight)
                continue
            worked = True
            del self._flights[flight.task]
            flight.slot.task = None
            try:
                result = ray.get(flight.done)
            except ray.exceptions.RayTaskError as exc:  # a bug in the worker's code
                self._bug(flight, exc)
            except ray.exceptions.RayError as exc:  # the worker (process or node) is gone
                self._worker_lost(flight, exc)
            else:
                if not flight.abandoned:
                    if flight.short:
                        self._short_done(flight, *result)
                    else:
                        self._long_done(flight, result)
            finally:
                for job in flight.jobs:
                    self._release(job.id)
        return worked

    def _long_done(self, flight: Flight, outcome: LongOutcome) -> None:
        job = flight.jobs[0]
        if outcome.cancelled:
            return
        try:
            rest = ray.get(flight.slot.actor.take.remote(flight.task))
        except ray.exceptions.RayError as exc:
            self._worker_lost(flight, exc)
            return
        self._save_windows(flight, rest)
        if flight.abandoned:
            return
        if outcome.error is not None:
            self._fail(job.id, _naming(job.spec.input_path, outcome.error), outcome.retryable)
        elif not flight.finished:  # cannot happen with a healthy worker: run it again
            self._requeue(job, "the worker ended before the last window")
        else:
            try:
                self._complete(job, flight.duration, flight.last_language, outcome.model_name)
            except Exception as exc:  # outputs (disk full): as the local runner says it
                self._fail(job.id, _naming(job.spec.input_path, exc), retryable=True)

    def _short_done(self, flight: Flight, model_name: str, results: list[ClipResult]) -> None:
        """As the local runner's ``_transcribe_short`` after ``transcribe_batch``."""
        for job, result in zip(flight.jobs, results, strict=True):
            if result.error is not None:
                self._fail(job.id, _naming(job.spec.input_path, result.error), result.retryable)
                continue
            self.store.set_duration(job.id, result.duration)
            if self._stopped(job.id):
                continue
            if not self.store.save_progress(job.id, result.segments, 1.0, replace=True):
                self._cancelled_elsewhere(job.id)
                continue
            for segment in result.segments:
                self.emit(p.SegmentReady(job_id=job.id, segment=segment))
            language = result.segments[0].language if result.segments else job.spec.options.language
            try:
                self._complete(job, result.duration, language, model_name)
            except Exception as exc:  # its outputs only: the others of the batch go on
                self._fail(job.id, _naming(job.spec.input_path, exc), retryable=True)

    def _worker_lost(self, flight: Flight, exc: Exception) -> None:
        """Requeue the task's jobs (long files keep their persisted windows); the slot is
        used again once its actor (restarted by Ray) answers."""
        self.emit(
            p.Log(
                level="warning", message=f"Ray worker {flight.slot.name} lost: {_first_line(exc)}"
            )
        )
        # "Unavailable" may be a worker too busy to answer in time, still transcribing: tell it
        # to stop (it must not run two jobs at once once it answers again).
        flight.slot.actor.cancel.remote(flight.task)
        flight.slot.answer = flight.slot.actor.where.remote()
        if flight.abandoned:
            return
        for job in flight.jobs:
            self._requeue(job, "Ray workers stopped")

    def _requeue(self, job: Job, why: str) -> None:
        attempts = self.store.get(job.id).attempts
        if attempts >= MAX_ATTEMPTS:
            message = f"{job.spec.input_path}: {why} {attempts} times while transcribing this file"
            self._fail(job.id, message, retryable=True)
        elif self.store.requeue(job.id):
            self.emit(p.Log(level="info", message=f"job {job.id} resumes on another worker"))

    def _bug(self, flight: Flight, exc: ray.exceptions.RayTaskError) -> None:
        self.emit(p.Log(level="error", message=str(exc)))
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        line = f"internal error on a Ray worker ({type(cause).__name__}: {_first_line(cause)})"
        for job in flight.jobs:
            if not flight.abandoned:
                self._fail(job.id, f"{job.spec.input_path}: {line}", retryable=True)

    def _revive(self) -> bool:
        """Slots whose actor answered again after a failure; those that cannot, dropped."""
        worked = False
        for slot in list(self._slots):
            if slot.answer is None:
                continue
            ready, _ = ray.wait([slot.answer], timeout=0)
            if not ready:
                continue
            worked = True
            try:
                ray.get(slot.answer)
                slot.answer = None
            except ray.exceptions.RayError:
                self._slots.remove(slot)  # restarts used up, or its node gone for good
        if not self._slots:
            self._no_workers_left()
        return worked

    def _no_workers_left(self) -> None:
        message = f"no Ray worker left on {self.address}"
        for job in self.store.queued():
            self._fail(job.id, f"{job.spec.input_path}: {message}", retryable=True)
        if not self._stopping.is_set():
            self.emit(p.EngineError(message=message))
            self._stopping.set()

    def _drain(self) -> None:
        """Stopping: keep the windows workers already finished, then let the tasks go."""
        deadline = time.monotonic() + DRAIN_S
        for flight in list(self._flights.values()):
            if flight.short or flight.abandoned:
                continue
            try:
                ref = flight.taking or flight.slot.actor.take.remote(flight.task)
                progress = ray.get(ref, timeout=max(0.1, deadline - time.monotonic()))
            except (ray.exceptions.RayError, TimeoutError):
                continue
            self._save_windows(flight, progress, draining=True)
        self._flights.clear()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
