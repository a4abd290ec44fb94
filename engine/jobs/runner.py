"""Runs the job queue inside the engine process, one worker thread, one job (or batch) at a time.

Order: priority, then age. Long files go step by step through the transcriber's ``windows``
(Whisper: one 30 s window a step; Qwen3-ASR: one batch of overlapping chunks), each step's
segments and checkpoint persisted before the next one starts; short files (one window) with
the same model and options are claimed together, sorted by length and decoded in batches.
Cancel and stop are checked between steps and between batches. Output files are written,
atomically, only once a job's transcript is complete.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from voxtune.engine import protocol as p
from voxtune.engine.audio import AudioFile
from voxtune.engine.config import EngineConfig
from voxtune.engine.errors import AudioError, VoxtuneError
from voxtune.engine.jobs.batching import SHORT_SECONDS, length_buckets
from voxtune.engine.jobs.job import Job, JobSpec
from voxtune.engine.jobs.model_cache import ModelCache
from voxtune.engine.jobs.store import JobStore
from voxtune.engine.subtitles import write_outputs
from voxtune.engine.transcribe.samples import sample_index
from voxtune.engine.types import Checkpoint, Transcript, TranscriptionOptions

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
IDLE_POLL_S = 1.0  # how often an idle runner looks for jobs other processes queued
LOOKAHEAD_BATCHES = 8  # short jobs considered at once for length bucketing, in batches
# Submissions come in bursts (one per file): wait for a burst to end before cutting batches.
SETTLE_S = 0.25

Emit = Callable[[p.Event], None]


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """Jobs that run together: a length bucket of short files, or one file window by window."""

    jobs: tuple[Job, ...]
    short: bool


class BatchRunner:
    def __init__(self, store: JobStore, emit: Emit, config: EngineConfig) -> None:
        self.store = store
        self.emit = emit
        self.config = config
        self.worker = os.getpid()
        self.models = ModelCache(config, emit)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._cancelled: set[int] = set()
        self._active: set[int] = set()  # claimed by this runner and not finished
        self._model_requests: list[tuple[str, int]] = []
        self._last_submit = 0.0
        # Files probed for the queue's length buckets, kept open until their job decodes them
        # (one open per file); only the worker thread touches it.
        self._opened: dict[int, AudioFile] = {}
        self._thread = threading.Thread(target=self._run, name="voxtune-jobs", daemon=True)

    # -- called from the command thread -------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop at the next window; a job still running after ``timeout`` is released anyway."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._close_opened(keep=())
        with self._lock:
            for job_id in self._active:
                self.store.release(job_id)
            self._active.clear()

    @property
    def current_jobs(self) -> tuple[int, ...]:
        with self._lock:
            return tuple(sorted(self._active))

    def request_model(self, name: str, reply_to: int) -> None:
        with self._lock:
            self._model_requests.append((name, reply_to))
        self._wake.set()

    def submit(self, spec: JobSpec, priority: int) -> Job:
        spec = with_checked_language(spec)  # refused here (EngineError), not failed mid-job
        job = self.store.submit(spec, priority)
        self._last_submit = time.monotonic()
        self._wake.set()
        return job

    def cancel(self, job_id: int) -> None:
        with self._lock:
            self.store.cancel(job_id)  # raises for a job that cannot be cancelled
            if job_id in self._active:
                self._cancelled.add(job_id)  # the worker says JobCancelled when it stops
                return
        self.emit(p.JobCancelled(job_id=job_id))

    def retry(self, job_id: int) -> Job:
        job = self.store.retry(job_id)
        self._wake.set()
        return job

    def rerun(self, job_id: int, options: TranscriptionOptions | None, model: str | None) -> Job:
        old = self.store.get(job_id).spec
        spec = replace(old, model=model or old.model, options=options or old.options)
        if spec == old:
            job = self.store.rerun(job_id)
        else:
            job = self.store.submit(spec)
            if job.state.finished:
                job = self.store.rerun(job.id)
        self._wake.set()
        return job

    # -- the worker thread --------------------------------------------------------------

    def _run(self) -> None:
        self._recover()
        while not self._stopping.is_set():
            try:
                worked = self._serve_model_requests() | self._run_next()
            except Exception as exc:  # a bug, not a bad file: say so, keep serving
                self._report_bug("the job runner", exc)
                worked = False
            if not worked:
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()
                self._recover()

    def _recover(self) -> None:
        """Requeue jobs of engines that died; fail those that keep killing engines."""
        requeued, failed = self.store.recover()
        for job in requeued:
            self.emit(p.Log(level="info", message=f"job {job.id} resumes after an engine stop"))
        for job in failed:
            self.emit(p.JobFailed(job_id=job.id, message=job.error or "", retryable=True))

    def _serve_model_requests(self) -> bool:
        with self._lock:
            requests, self._model_requests = self._model_requests, []
        for name, reply_to in requests:
            try:
                self.models.get(name, reply_to=reply_to)
            except VoxtuneError as exc:
                self.emit(p.EngineError(message=str(exc), reply_to=reply_to))
        return bool(requests)

    def _run_next(self) -> bool:
        if not self.config.run_queue:
            return False
        unit = self._next_unit()
        if unit is None:
            return False
        if unit.short:
            self._run_short(unit.jobs)
        elif unit.jobs:
            self._run_long(unit.jobs[0])
        return True

    def _next_unit(self) -> WorkUnit | None:
        """What runs next: the head's bucket of short files, or the head alone; None when
        nothing is queued, an empty unit when files were probed (read the queue again)."""
        while (quiet := time.monotonic() - self._last_submit) < SETTLE_S:
            time.sleep(SETTLE_S - quiet)
        lookahead = max(1, self.config.batch_size) * LOOKAHEAD_BATCHES
        queued = self.store.queued(limit=lookahead)
        self._close_opened(keep={j.id for j in queued})  # cancelled, removed or run elsewhere
        if not queued:
            return None
        unprobed = [j for j in queued if j.duration is None]
        if unprobed:  # lengths first: the buckets need them, and unreadable files fail here
            for job in unprobed:
                self._probe(job)
            return WorkUnit(jobs=(), short=False)
        head = queued[0]
        if self.config.batch_size > 1 and _is_short(head):
            # Jobs that may share a batch with the head: same model, aligner and options, same
            # priority.
            # Of their length buckets, the head's runs now; the queue is read again after it,
            # so a job queued meanwhile with a higher priority goes next.
            key = (head.spec.decoding_key(), head.priority)
            group = [
                j for j in queued if _is_short(j) and (j.spec.decoding_key(), j.priority) == key
            ]
            buckets = length_buckets(group, self.config.batch_size)
            return WorkUnit(jobs=tuple(next(b for b in buckets if head in b)), short=True)
        return WorkUnit(jobs=(head,), short=False)

    def _probe(self, job: Job) -> None:
        try:
            media = AudioFile(job.spec.input_path)
            duration = media.duration
        except VoxtuneError as exc:
            self._fail(job.id, str(exc), retryable=not isinstance(exc, AudioError))
            return
        self._opened[job.id] = media
        self.store.set_duration(job.id, duration)  # 0.0: the headers do not say

    def _decode(self, job: Job, start: float = 0.0) -> np.ndarray:
        """The job's audio from ``start``: from the handle its probe opened, if it has one."""
        media = self._opened.pop(job.id, None)
        with media if media is not None else AudioFile(job.spec.input_path) as opened:
            return opened.decode(start=start)

    def _close_opened(self, keep: Collection[int]) -> None:
        for job_id in [i for i in self._opened if i not in keep]:
            self._opened.pop(job_id).close()

    def _claim(self, job: Job) -> Job | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            claimed = self.store.claim(job.id, self.worker)
            if claimed is not None:
                self._active.add(job.id)
                self._cancelled.discard(job.id)
            return claimed

    def _should_stop(self, job_id: int) -> str | None:
        """Why to stop now ("cancelled", "stopping"), or None; checked between windows."""
        with self._lock:
            if job_id in self._cancelled:
                return "cancelled"
        if self._stopping.is_set():
            return "stopping"
        return None

    def _release(self, job_id: int) -> None:
        with self._lock:
            self._active.discard(job_id)
            self._cancelled.discard(job_id)

    # -- one long file --------------------------------------------------------------------

    def _run_long(self, queued: Job) -> None:
        job = self._claim(queued)
        if job is None:
            return
        try:
            self._transcribe_long(job)
        except VoxtuneError as exc:
            message = _naming(job.spec.input_path, exc)
            self._fail(job.id, message, retryable=not isinstance(exc, AudioError))
        except Exception as exc:
            self._fail(job.id, self._report_bug(job.spec.input_path, exc), retryable=True)
        finally:
            self._release(job.id)

    def _transcribe_long(self, job: Job) -> None:
        spec = job.spec
        transcriber = self.models.get(spec.model, spec.aligner)
        saved = self.store.checkpoint(job.id)
        if saved is None:
            self.store.restart_from_zero(job.id)
            audio = self._decode(job)
            duration = len(audio) / SAMPLE_RATE
            self.store.set_duration(job.id, duration)
            checkpoint = transcriber.begin(audio, spec.options)
            audio_start = 0.0
        else:
            checkpoint = Checkpoint.from_json(saved)
            duration = job.duration or 0.0
            # From the sample the next window starts at: the slices then match a full decode.
            audio_start = sample_index(checkpoint.seek) / SAMPLE_RATE
            audio = (
                np.zeros(0, np.float32)
                if checkpoint.finished
                else self._decode(job, start=audio_start)
            )
        resumed_at = checkpoint.seek if saved is not None else 0.0
        self.emit(p.JobStarted(job_id=job.id, resume_from=resumed_at, duration=duration))
        began = time.monotonic()
        progress = transcriber.windows(audio, spec.options, checkpoint, offset=audio_start)
        for segments, checkpoint in progress:  # the last checkpoint is used below
            done_s = duration if checkpoint.finished else min(checkpoint.seek, duration)
            fraction = done_s / duration if duration else 1.0
            if not self.store.save_progress(job.id, segments, fraction, checkpoint.to_json()):
                self._cancelled_elsewhere(job.id)
                return
            for segment in segments:
                self.emit(p.SegmentReady(job_id=job.id, segment=segment))
            if not checkpoint.finished:  # the last word on progress comes with the outputs
                rate = (done_s - resumed_at) / max(time.monotonic() - began, 1e-6)
                eta = (duration - done_s) / rate if rate > 0 else None
                self.emit(
                    p.JobProgress(job_id=job.id, fraction=fraction, eta_s=eta, audio_done_s=done_s)
                )
            if self._stopped(job.id):
                return
        self._complete(job, duration, checkpoint.language)

    # -- many short files -----------------------------------------------------------------

    def _run_short(self, bucket: Sequence[Job]) -> None:
        claimed = [j for j in (self._claim(job) for job in bucket) if j is not None]
        if not claimed:
            return
        try:
            self._transcribe_short(claimed)
        except VoxtuneError as exc:  # the model: every job of the batch needs it
            for job in claimed:
                self._fail(job.id, _naming(job.spec.input_path, exc), retryable=True)
        except Exception as exc:
            message = self._report_bug("a batch of short files", exc)
            for job in claimed:
                self._fail(job.id, f"{job.spec.input_path}: {message}", retryable=True)
        finally:
            for job in claimed:
                self._release(job.id)

    def _transcribe_short(self, claimed: Sequence[Job]) -> None:
        transcriber = self.models.get(claimed[0].spec.model, claimed[0].spec.aligner)
        jobs: list[Job] = []
        audios: list[np.ndarray] = []
        for job in claimed:
            self.emit(p.JobStarted(job_id=job.id, resume_from=0.0, duration=job.duration))
            try:
                audio = self._decode(job)
            except VoxtuneError as exc:
                self._fail(job.id, str(exc), retryable=not isinstance(exc, AudioError))
                continue
            self.store.set_duration(job.id, len(audio) / SAMPLE_RATE)
            jobs.append(job)
            audios.append(audio)
        if not jobs:
            return
        results = transcriber.transcribe_batch(audios, claimed[0].spec.options)
        for job, audio, segments in zip(jobs, audios, results, strict=True):
            if self._stopped(job.id):
                continue
            if not self.store.save_progress(job.id, segments, 1.0, replace=True):
                self._cancelled_elsewhere(job.id)
                continue
            for segment in segments:
                self.emit(p.SegmentReady(job_id=job.id, segment=segment))
            duration = len(audio) / SAMPLE_RATE
            language = segments[0].language if segments else claimed[0].spec.options.language
            try:
                self._complete(job, duration, language)
            except VoxtuneError as exc:  # its outputs only: the others of the batch go on
                self._fail(job.id, _naming(job.spec.input_path, exc), retryable=True)

    # -- endings --------------------------------------------------------------------------

    def _stopped(self, job_id: int) -> bool:
        """Whether to stop this job now; says why to the store and the client."""
        reason = self._should_stop(job_id)
        if reason == "cancelled":
            self.emit(p.JobCancelled(job_id=job_id))
        elif reason == "stopping":
            self.store.release(job_id)
        return reason is not None

    def _cancelled_elsewhere(self, job_id: int) -> None:
        """The store says the job stopped running: cancelled by this engine or another process."""
        self.emit(p.JobCancelled(job_id=job_id))

    def _complete(
        self, job: Job, duration: float, language: str | None, model_name: str | None = None
    ) -> None:
        """Outputs from the persisted segments; ``model_name`` when the model ran elsewhere."""
        spec = job.spec
        segments = self.store.segments(job.id)
        transcript = Transcript(
            segments=tuple(segments),
            language=language or (segments[0].language if segments else None),
            duration=duration,
            model=model_name or self.models.get(spec.model, spec.aligner).model_name,
        )
        if self._stopped(job.id):  # last chance before files appear
            return
        outputs = write_outputs(
            transcript, Path(spec.output_dir), spec.stem, spec.formats, spec.rules
        )
        paths = tuple(str(o) for o in outputs)
        if self.store.finish(job.id, paths):
            self.emit(p.JobProgress(job_id=job.id, fraction=1.0, eta_s=0.0, audio_done_s=duration))
            self.emit(p.JobDone(job_id=job.id, outputs=paths))
        else:
            self._cancelled_elsewhere(job.id)

    def _fail(self, job_id: int, message: str, retryable: bool) -> None:
        if self.store.fail(job_id, message, retryable):
            self.emit(p.JobFailed(job_id=job_id, message=message, retryable=retryable))

    def _report_bug(self, what: str, exc: Exception) -> str:
        """Log the traceback; the one line a user sees."""
        self.emit(p.Log(level="error", message=traceback.format_exc()))
        log.error("unexpected error in %s", what, exc_info=exc)
        first_line = (str(exc).splitlines() or [""])[0]
        return f"{what}: internal error ({type(exc).__name__}: {first_line})"


def _naming(path: str, error: Exception) -> str:
    """The error's line, starting with the file it is about (the user's one clue which)."""
    message = str(error)
    return message if message.startswith(path) else f"{path}: {message}"


def with_checked_language(spec: JobSpec) -> JobSpec:
    """``spec`` with its language as the model's code; VoxtuneError for one it does not know.

    A listed model (built-ins, the registry, imports) is checked against its listing: resolving
    a built-in the first time imports it (torch, transformers) on this command thread while a
    job's thread may be importing transformers too, and two threads importing it at once
    fail. A folder is resolved (read, not loaded). A spelling (``EN``, ``en-US``) becomes the
    code, so it is the same job as ``en``.
    """
    if spec.options.language is None:
        return spec
    from voxtune.engine.languages import checked_language
    from voxtune.engine.models import resolve_model
    from voxtune.engine.models.registry import listed_languages

    languages = listed_languages(spec.model) or resolve_model(spec.model).languages
    language = checked_language(spec.options.language, spec.model, languages)
    if language == spec.options.language:
        return spec
    return replace(spec, options=replace(spec.options, language=language))


def _is_short(job: Job) -> bool:
    """One window long; a file of unknown length (0.0) goes the long way, which reads it all."""
    return job.duration is not None and 0.0 < job.duration <= SHORT_SECONDS
