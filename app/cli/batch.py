"""``voxtune batch FILE|DIR...``: many files through the engine process and the job queue.

Every file is a job in the persistent queue (``voxtune jobs`` lists them). Stop it any way
you like — Ctrl-C, closing the terminal, ``kill -9`` of this command or of its engine — and
the same command again finishes what is left: files already done are skipped, a file cut
off half-way resumes where its transcript stopped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.app.cli.common import (
    add_decoding_arguments,
    add_subtitle_arguments,
    decoding_options,
    subtitle_rules,
)
from voxtune.app.cli.inputs import (
    distinct_output_names,
    output_formats,
    writable_folder,
)
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.models.info import DEFAULT_MODEL

if TYPE_CHECKING:
    from voxtune.engine.client import EngineClient
    from voxtune.engine.jobs import Job, JobSpec, JobStore
    from voxtune.engine.protocol import Event

# What a folder is searched for: the containers PyAV reads that people keep speech in.
MEDIA_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".opus", ".oga", ".m4a", ".aac", ".wma", ".aiff", ".aif",
     ".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi"}
)  # fmt: skip
MAX_RESTARTS = 3  # engine deaths one command puts up with before giving up
RECONCILE_S = 5.0  # with no news for this long, ask the store (another engine may run a job)


def _formats(value: str) -> list[str]:
    return [f.strip().lower() for f in value.split(",") if f.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="transcribe many files through the persistent job queue",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="FILE|DIR")
    add_decoding_arguments(parser)
    add_subtitle_arguments(parser)
    parser.add_argument(
        "--format", "-f", type=_formats, default=["srt"], help="comma list of srt,vtt,txt,json"
    )
    parser.add_argument("--output-dir", "-o", type=Path, default=Path("."))
    parser.add_argument("--priority", type=int, default=0, help="higher runs first")
    parser.add_argument(
        "--batch-size", type=int, default=8, help="short files decoded together (1: one by one)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for the model (per Ray worker)"
    )
    parser.add_argument(
        "--cluster",
        metavar="ray://HOST:PORT|auto",
        help="run the jobs on a Ray cluster (this machine keeps the job store and the outputs)",
    )
    parser.add_argument(
        "--workers", type=int, help="Ray workers (default: one per --threads CPUs of the cluster)"
    )
    parser.set_defaults(func=run)


def media_files(inputs: Iterable[Path]) -> list[Path]:
    """Files as given, folders searched (recursively) for media; in a stable order."""
    found: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found.extend(
                sorted(
                    f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in MEDIA_SUFFIXES
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise VoxtuneError(f"{path}: no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise VoxtuneError(f"{', '.join(map(str, inputs))}: no audio or video files found")
    return unique


def job_specs(args: argparse.Namespace) -> list[JobSpec]:
    from voxtune.engine.jobs import OUTPUT_FORMATS, JobSpec

    unknown = [f for f in args.format if f not in OUTPUT_FORMATS]
    if unknown:
        raise VoxtuneError(
            f"unknown format {', '.join(unknown)} (choose from {', '.join(OUTPUT_FORMATS)})"
        )
    output_formats(args.format)
    options = decoding_options(args)
    rules = subtitle_rules(args)
    files = media_files(args.inputs)
    distinct_output_names(files)
    return [
        JobSpec.for_file(
            path,
            args.output_dir,
            tuple(args.format),
            args.model or DEFAULT_MODEL,
            options,
            rules,
            args.aligner,
        )
        for path in files
    ]


def listed_model_language(args: argparse.Namespace) -> str | None:
    """``--language`` checked against a listed model's languages; for a folder, its spelling
    only (resolving it here could import or convert it in this light process: the engine's
    family check refuses it when the job loads the model)."""
    from voxtune.engine.languages import checked_language
    from voxtune.engine.models.registry import listed_languages

    name = args.model or DEFAULT_MODEL
    return checked_language(args.language, name, listed_languages(name))


def run(args: argparse.Namespace) -> int:
    from voxtune.app.paths import jobs_db
    from voxtune.engine.client import EngineClient
    from voxtune.engine.jobs import JobStore
    from voxtune.engine.process import EngineConfig

    if args.batch_size < 1:
        raise VoxtuneError(f"--batch-size must be at least 1, not {args.batch_size}")
    if args.workers is not None and (args.cluster is None or args.workers < 1):
        raise VoxtuneError("--workers needs --cluster and must be at least 1")
    if args.cluster:
        from voxtune.engine.cluster import check_address

        check_address(args.cluster)  # one line now, not an engine that fails to start
    writable_folder(args.output_dir)
    args.language = listed_model_language(args)  # before any job is made
    specs = job_specs(args)
    store = JobStore(jobs_db())  # opened here first: a broken database is reported at once
    if store.notice:
        print(f"voxtune: {store.notice}", file=sys.stderr)
    config = EngineConfig(
        db_path=str(store.path),
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
        threads=args.threads,
        batch_size=args.batch_size,
        cluster=args.cluster,
        cluster_workers=args.workers,
    )
    client = EngineClient(config)
    client.start()
    try:
        return Follower(client, store).run(specs)
    except KeyboardInterrupt:
        print("voxtune: stopping; the same command resumes the rest", file=sys.stderr)
        raise
    finally:
        client.stop()
        store.close()


class Follower:
    """Submits jobs, shows their progress, survives engine deaths, reports the outcome."""

    def __init__(self, client: EngineClient, store: JobStore) -> None:
        self.client = client
        self.store = store
        self.paths: dict[int, str] = {}  # job id -> input path
        self.finished: dict[int, str] = {}  # job id -> "done" | "skipped" | "failed" | …
        self.rejected: list[str] = []  # submissions the engine refused (no job made)
        self.fractions: dict[int, float] = {}  # of the jobs in progress
        self.unanswered: dict[int, JobSpec] = {}  # SubmitJob seq -> spec
        self.restarts = 0

    def run(self, specs: Sequence[JobSpec]) -> int:
        from tqdm import tqdm

        self.bar = tqdm(
            total=len(specs), unit="file", file=sys.stderr, disable=None, dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n:.1f}/{total} files [{elapsed}<{remaining}]",
        )  # fmt: skip
        with self.bar:
            self._submit(specs)
            while len(self.finished) + len(self.rejected) < len(specs):
                event = self.client.next_event(timeout=RECONCILE_S)
                if event is None:
                    self._reconcile()
                else:
                    self._handle(event)
                self.bar.n = len(self.finished) + len(self.rejected) + sum(self.fractions.values())
                self.bar.refresh()
        return self._report(len(specs))

    def _submit(self, specs: Iterable[JobSpec]) -> None:
        from voxtune.engine.protocol import SubmitJob

        self.unanswered = {self.client.send(SubmitJob(spec=s)): s for s in specs}

    def _handle(self, event: Event) -> None:
        from voxtune.engine import protocol as p

        match event:
            case p.JobQueued(job=job, reply_to=seq):
                self.unanswered.pop(seq, None)
                self.paths[job.id] = job.spec.input_path
                self._settle(job, earlier_run=True)
            case p.JobProgress(job_id=job_id, fraction=fraction) if job_id in self.paths:
                self.fractions[job_id] = fraction
            case p.JobDone(job_id=job_id) if job_id in self.paths:
                self._record(job_id, "done")
            case p.JobFailed(job_id=job_id, message=message) if job_id in self.paths:
                self._record(job_id, "failed", message)
            case p.JobCancelled(job_id=job_id) if job_id in self.paths:
                self._record(job_id, "cancelled", f"cancelled: {self.paths[job_id]}")
            case p.EngineError(message=message, reply_to=seq) if seq in self.unanswered:
                del self.unanswered[seq]
                self.rejected.append(message)
                self.bar.write(f"voxtune: error: {message}", file=sys.stderr)
            case p.EngineError(message=message):
                self.bar.write(f"voxtune: engine: {message}", file=sys.stderr)
            case p.Log(level=level, message=message):
                _log_to_file(level, message)
            case p.EngineDied(reason=reason):
                self._restart(reason)

    def _restart(self, reason: str) -> None:
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            raise VoxtuneError(f"{reason}; giving up after {MAX_RESTARTS} restarts")
        self.bar.write(f"voxtune: {reason}; starting a new one", file=sys.stderr)
        self.client.restart()  # the new engine requeues and resumes the jobs the old one ran
        # Submitting again is harmless (same spec, same job): it covers the submissions the
        # dead engine never answered.
        self._submit(self.unanswered.values())

    def _reconcile(self) -> None:
        """Ask the store: another engine may have finished a job, or someone cancelled it."""
        for job_id in set(self.paths) - set(self.finished):
            self._settle(self.store.get(job_id), earlier_run=False)

    def _settle(self, job: Job, earlier_run: bool) -> None:
        from voxtune.engine.jobs import JobState

        if job.state is JobState.DONE:
            if earlier_run and job.id not in self.finished:
                # Said per file: an old result must never pass silently for a new one.
                self.bar.write(
                    f"voxtune: {job.spec.input_path}: unchanged since an earlier run, "
                    "its outputs are kept",
                    file=sys.stderr,
                )
            self._record(job.id, "skipped" if earlier_run else "done")
        elif job.state is JobState.FAILED:
            self._record(job.id, "failed", job.error or f"{job.spec.input_path}: failed")
        elif job.state is JobState.CANCELLED:
            self._record(job.id, "cancelled", f"cancelled: {job.spec.input_path}")

    def _record(self, job_id: int, how: str, message: str | None = None) -> None:
        if job_id in self.finished:
            return
        self.finished[job_id] = how
        self.fractions.pop(job_id, None)
        if message:
            self.bar.write(
                f"voxtune: {'error: ' if how == 'failed' else ''}{message}", file=sys.stderr
            )

    def _report(self, total: int) -> int:
        counts = Counter(self.finished.values())
        failed = counts["failed"] + len(self.rejected)
        parts = [f"{counts['done'] + counts['skipped']} of {total} done"]
        if counts["skipped"]:
            parts.append(f"{counts['skipped']} of them by an earlier run")
        if failed:
            parts.append(f"{failed} failed")
        if counts["cancelled"]:
            parts.append(f"{counts['cancelled']} cancelled")
        print(f"voxtune: {', '.join(parts)}", file=sys.stderr)
        return 1 if failed or counts["cancelled"] else 0


def _log_to_file(level: str, message: str) -> None:
    """Engine logs (tracebacks included) go to a file, not over the progress bar."""
    from voxtune.app.paths import logs_dir

    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(logs_dir() / "engine.log", "a", encoding="utf-8") as log:
        log.write(f"{stamp} {level.upper()} {message}\n")
