"""The Ray actor: one model loaded once, audio in, segments out; the same engine code.

``TranscriptionWorker`` is a plain class (``runner`` makes it a Ray actor), so it imports
nothing of Ray. It decodes with ``AudioFile``, builds its model through the job runner's
``ModelCache`` (``build_model`` underneath) and runs the transcriber's ``windows`` and
``transcribe_batch`` exactly as the local ``BatchRunner`` does; the engine process persists
what it returns. The actor is threaded: while one thread transcribes, another answers
``take`` (the windows done so far), ``cancel`` and ``where``.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voxtune.engine import protocol as p
from voxtune.engine.audio import AudioFile
from voxtune.engine.cluster.tasks import (
    AudioSource,
    ClipResult,
    LongOutcome,
    LongProgress,
    Window,
)
from voxtune.engine.config import EngineConfig
from voxtune.engine.errors import AudioError, VoxtuneError
from voxtune.engine.jobs.model_cache import ModelCache
from voxtune.engine.transcribe.samples import sample_index
from voxtune.engine.types import Checkpoint

if TYPE_CHECKING:
    from collections.abc import Iterator

    from voxtune.engine.families.family import OfflineTranscriber
    from voxtune.engine.jobs.job import JobSpec

SAMPLE_RATE = 16000


class TaskCancelled(VoxtuneError):
    """The engine process asked this worker to stop the task (the job was cancelled)."""


class TranscriptionWorker:
    def __init__(self, device: str, dtype: str, threads: int, batch_size: int) -> None:
        from voxtune.engine.torch_threads import set_torch_threads

        set_torch_threads(threads)  # the CPUs Ray reserved for this actor, no more
        config = EngineConfig(db_path="", device=device, dtype=dtype, batch_size=batch_size)
        self._loaded: p.ModelLoaded | None = None
        self._models = ModelCache(config, self._remember)
        self._model_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: dict[int, list[Window]] = {}  # task -> windows not yet taken
        self._durations: dict[int, float] = {}
        self._cancelled: set[int] = set()
        self._current: tuple[int, tuple[int, ...]] | None = None  # (task, job ids)

    def _remember(self, event: p.Event) -> None:
        if isinstance(event, p.ModelLoaded):
            self._loaded = event

    def _transcriber(self, spec: JobSpec) -> OfflineTranscriber:
        with self._model_lock:
            return self._models.get(spec.model, spec.aligner)

    # -- answered beside a running task -------------------------------------------------

    def where(self) -> tuple[str, int, tuple[int, ...]]:
        """(host, pid, job ids being transcribed): for logs, and for tests that kill it."""
        with self._lock:
            jobs = self._current[1] if self._current else ()
        return socket.gethostname(), os.getpid(), jobs

    def take(self, task: int) -> LongProgress:
        with self._lock:
            windows = tuple(self._pending.get(task, ()))
            if self._current is not None and self._current[0] == task:
                self._pending[task] = []
            else:  # finished: this was the last of it
                self._pending.pop(task, None)
            return LongProgress(windows=windows, duration=self._durations.pop(task, None))

    def cancel(self, task: int) -> None:
        with self._lock:
            self._cancelled.add(task)

    # -- work ----------------------------------------------------------------------------

    def warm(self, name: str, aligner: str | None) -> p.ModelLoaded | None:
        """Load a model before the first job needs it (the app's LoadModel)."""
        with self._model_lock:
            self._models.get(name, aligner)
            return self._loaded

    def transcribe_long(
        self, task: int, job_id: int, spec: JobSpec, source: AudioSource, saved: str | None
    ) -> LongOutcome:
        """A file window by window from ``saved`` (a checkpoint) or the start; the windows
        wait in ``take``. Errors come back as data: domain exceptions need not pickle."""
        try:
            model_name = self._long(task, job_id, spec, source, saved)
        except TaskCancelled:
            return LongOutcome(cancelled=True)
        except VoxtuneError as exc:
            return LongOutcome(error=str(exc), retryable=not isinstance(exc, AudioError))
        return LongOutcome(model_name=model_name)

    def _long(
        self, task: int, job_id: int, spec: JobSpec, source: AudioSource, saved: str | None
    ) -> str:
        with self._running(task, (job_id,)):
            transcriber = self._transcriber(spec)
            if saved is None:
                audio = _decode(source)
                checkpoint = transcriber.begin(audio, spec.options)
                audio_start = 0.0
                with self._lock:
                    self._durations[task] = len(audio) / SAMPLE_RATE
            else:
                checkpoint = Checkpoint.from_json(saved)
                # From the sample the next window starts at, as the local runner resumes.
                audio_start = sample_index(checkpoint.seek) / SAMPLE_RATE
                audio = (
                    np.zeros(0, np.float32)
                    if checkpoint.finished
                    else _decode(source, start=audio_start)
                )
            steps = transcriber.windows(audio, spec.options, checkpoint, offset=audio_start)
            for segments, checkpoint in steps:
                window = Window(
                    segments=tuple(segments),
                    checkpoint=checkpoint.to_json(),
                    finished=checkpoint.finished,
                    seek=checkpoint.seek,
                    language=checkpoint.language,
                )
                with self._lock:
                    self._pending[task].append(window)
                    if task in self._cancelled:
                        raise TaskCancelled(f"{spec.input_path}: cancelled")
            return transcriber.model_name

    def transcribe_short(
        self, task: int, job_ids: Sequence[int], spec: JobSpec, sources: Sequence[AudioSource]
    ) -> tuple[str, list[ClipResult]]:
        """Short files decoded together in one batch, as the local runner's ``_run_short``."""
        with self._running(task, tuple(job_ids)):
            try:
                transcriber = self._transcriber(spec)
            except VoxtuneError as exc:  # the model: every file of the batch needs it
                return "", [ClipResult(error=str(exc)) for _ in sources]
            results: list[ClipResult | None] = []
            audios: list[np.ndarray] = []
            for source in sources:
                try:
                    audios.append(_decode(source))
                    results.append(None)
                except VoxtuneError as exc:
                    retryable = not isinstance(exc, AudioError)
                    results.append(ClipResult(error=str(exc), retryable=retryable))
            decoded = iter(transcriber.transcribe_batch(audios, spec.options) if audios else [])
            audio_of = iter(audios)
            out = []
            for result in results:
                if result is None:
                    audio = next(audio_of)
                    result = ClipResult(
                        segments=tuple(next(decoded)), duration=len(audio) / SAMPLE_RATE
                    )
                out.append(result)
            return transcriber.model_name, out

    @contextmanager
    def _running(self, task: int, job_ids: tuple[int, ...]) -> Iterator[None]:
        with self._lock:
            self._current = (task, job_ids)
            self._pending[task] = []
        try:
            yield
        finally:
            with self._lock:
                self._current = None
                self._cancelled.discard(task)


def _decode(source: AudioSource, start: float = 0.0) -> np.ndarray:
    """16 kHz mono float32 from the bytes sent, or from the worker's own copy of the path."""
    if source.data is None:
        if not Path(source.path).is_file():
            raise VoxtuneError(
                f"{source.path}: not on this worker ({socket.gethostname()}); files over the "
                "size sent with a task must be on a path every worker shares"
            )
        with AudioFile(source.path) as media:
            return media.decode(start=start)
    # The file's own name and suffix: a container the extension names is probed as such, and
    # any error names the user's file.
    with tempfile.TemporaryDirectory(prefix="voxtune-task-") as folder:
        local = Path(folder) / Path(source.path).name
        local.write_bytes(source.data)
        try:
            with AudioFile(local) as media:
                return media.decode(start=start)
        except AudioError as exc:
            raise AudioError(source.path, exc.problem) from None
        except VoxtuneError as exc:
            raise VoxtuneError(str(exc).replace(str(local), source.path)) from None
