"""The persistent job queue: SQLite (WAL), shared by the engine process and the CLI.

Every state change is one conditional UPDATE (``… WHERE state = 'running'``), so two engines
or an engine and ``voxtune jobs cancel`` never overwrite each other's decision.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.jobs.codec import (
    options_from_dict,
    rules_from_dict,
    rules_to_dict,
    segment_from_json,
    segment_to_json,
)
from voxtune.engine.jobs.job import Job, JobSpec, JobState
from voxtune.engine.subtitles.rules import DEFAULT_RULES
from voxtune.engine.types import Segment

SCHEMA_VERSION = 4
# MIGRATIONS[v] brings a database at user_version v to v + 1; schema.sql is always the result
# of applying them all, so a fresh database and a migrated one are the same.
MIGRATIONS: dict[int, str] = {
    # Subtitle rules and the aligner got columns of their own. NULL in both reads back as
    # the defaults, which is what the jobs queued before were run with.
    1: """
        ALTER TABLE jobs ADD COLUMN rules TEXT;
        ALTER TABLE jobs ADD COLUMN aligner TEXT;
    """,
    # The input's content fingerprint, so a re-recorded file is transcribed again. NULL (jobs
    # from before) is filled in by the next submit of the same job.
    2: """
        ALTER TABLE jobs ADD COLUMN content TEXT;
    """,
    # The transcript editor keeps a finished job's corrected segments beside the model's.
    3: """
        CREATE TABLE edits (
            job_id   INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
            segments TEXT NOT NULL,
            saved_at REAL NOT NULL
        );
    """,
}

# An engine that stopped while running a job this many times makes the job fail rather
# than take the next engine down with it.
MAX_ATTEMPTS = 3
# A running job nobody has touched for this long belongs to a hung engine (or a reused pid).
STALE_AFTER_S = 15 * 60

_COLUMNS = (
    "id, input_path, settings, rules, aligner, state, priority, progress, duration, outputs, "
    "error, retryable, attempts, worker, created_at, started_at, finished_at, content"
)


class JobStoreError(VoxtuneError):
    """The job database cannot be used, or a job cannot do what was asked."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this id is running (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:  # no /proc (macOS, Windows): the signal test is all there is
        return True


class JobStore:
    """Jobs and their segments in one SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # Where a damaged database was moved to when this store opened, to tell the user.
        self.moved_aside: Path | None = None
        self._lock = threading.RLock()
        try:
            self._db = self._connect()
            if not _is_intact(self._db):
                self._db.close()
                self.moved_aside = _move_aside(self.path)
                self._db = self._connect()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise JobStoreError(f"{self.path}: not a usable job database ({exc})") from exc
        except OSError as exc:
            raise JobStoreError(f"{self.path}: cannot open ({exc.strerror or exc})") from exc

    @property
    def notice(self) -> str | None:
        """One line for the user when the store had to start afresh; None otherwise."""
        if self.moved_aside is None:
            return None
        return (
            f"{self.path}: job database was damaged; moved to {self.moved_aside.name} "
            "and a new one started (earlier jobs are not listed; their outputs are untouched)"
        )

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # It names every media file the user transcribed: theirs alone to read. SQLite
            # gives its -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        # Autocommit: each statement commits alone unless inside _transaction().
        db = sqlite3.connect(
            self.path,
            timeout=30.0,
            isolation_level=None,
            check_same_thread=False,
            factory=_GuardedConnection,
        )
        db.label = str(self.path)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- schema -------------------------------------------------------------------------

    def _migrate(self) -> None:
        if self._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # the common case, without taking the write lock
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JobStoreError(
                    f"{self.path}: made by a newer Voxtune (schema {version}, "
                    f"this one knows up to {SCHEMA_VERSION})"
                )
            if version == 0:
                schema = resources.files("voxtune.engine.jobs").joinpath("schema.sql")
                for statement in _statements(schema.read_text(encoding="utf-8")):
                    self._db.execute(statement)
            else:
                for step in range(version, SCHEMA_VERSION):
                    for statement in _statements(MIGRATIONS[step]):
                        self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested uses join the outer one."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-way
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- reading ------------------------------------------------------------------------

    def get(self, job_id: int) -> Job:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        if row is None:
            raise JobStoreError(f"{self.path}: no job {job_id}")
        return _job_from_row(row)

    def find(self, spec: JobSpec) -> Job | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE job_key = ?", (spec.key(),)
            ).fetchone()
        return None if row is None else _job_from_row(row)

    def jobs(self, states: Iterable[JobState] | None = None) -> list[Job]:
        """Jobs in the order the queue runs them: priority, then age."""
        wanted = [s.value for s in (states or JobState)]
        marks = ",".join("?" * len(wanted))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE state IN ({marks}) "
                "ORDER BY priority DESC, created_at, id",
                wanted,
            ).fetchall()
        return [_job_from_row(r) for r in rows]

    def queued(self, limit: int | None = None) -> list[Job]:
        jobs = self.jobs([JobState.QUEUED])
        return jobs if limit is None else jobs[:limit]

    def segments(self, job_id: int) -> list[Segment]:
        with self._lock:
            rows = self._db.execute(
                "SELECT segment FROM segments WHERE job_id = ? ORDER BY position", (job_id,)
            ).fetchall()
        return [segment_from_json(r[0]) for r in rows]

    def save_edits(self, job_id: int, segments: Sequence[Segment]) -> None:
        """Keep the user's corrected segments for ``job_id`` (replacing earlier edits); the
        model's own segments stay as they were, so a tune can compare the two."""
        self.get(job_id)  # a clear "no job" rather than a foreign-key error
        document = json.dumps([json.loads(segment_to_json(s)) for s in segments])
        with self._lock:
            self._db.execute(
                "INSERT INTO edits (job_id, segments, saved_at) VALUES (?, ?, ?) "
                "ON CONFLICT (job_id) DO UPDATE SET segments = excluded.segments, "
                "saved_at = excluded.saved_at",
                (job_id, document, time.time()),
            )

    def edits(self, job_id: int) -> list[Segment] | None:
        """The user's corrected segments for ``job_id``; None when it was never edited."""
        with self._lock:
            row = self._db.execute(
                "SELECT segments FROM edits WHERE job_id = ?", (job_id,)
            ).fetchone()
        if row is None:
            return None
        return [segment_from_json(json.dumps(s)) for s in json.loads(row[0])]

    # -- the queue, from the user's side ------------------------------------------------

    def submit(self, spec: JobSpec, priority: int = 0) -> Job:
        """Queue ``spec``; a spec seen before is the same job.

        A finished job whose output files are all still there and whose input has not
        changed since (``JobSpec.content``) is returned untouched (the work is done); a failed
        or cancelled one is queued again and resumes from its persisted segments. A changed
        input starts again from zero: nothing of the old content is kept.
        """
        now = time.time()
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE job_key = ?", (spec.key(),)
            ).fetchone()
            if row is None:
                cursor = db.execute(
                    "INSERT INTO jobs (job_key, input_path, settings, rules, aligner, priority, "
                    "created_at, updated_at, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (spec.key(), spec.input_path, spec.settings_json(), _rules_json(spec),
                     spec.aligner, priority, now, now, spec.content),
                )  # fmt: skip
                return self.get(int(cursor.lastrowid))
            job = _job_from_row(row)
            changed = spec.content is not None and spec.content != job.spec.content
            if changed:
                db.execute("UPDATE jobs SET content = ? WHERE id = ?", (spec.content, job.id))
            # A job from before fingerprints (NULL) adopts this one: what it transcribed then
            # cannot be known, and the upgrade should not redo every file.
            stale = changed and job.spec.content is not None
            if job.state is JobState.RUNNING or (job.state is JobState.QUEUED and not stale):
                return self.get(job.id) if changed else job
            complete = job.state is JobState.DONE and all(Path(p).is_file() for p in job.outputs)
            if complete and not stale:
                return self.get(job.id) if changed else job
            if stale or job.state is JobState.DONE:  # new content, or outputs deleted since
                self.restart_from_zero(job.id)
            self._requeue(job.id, priority, now)
            return self.get(job.id)

    def retry(self, job_id: int) -> Job:
        job = self.get(job_id)
        if job.state not in (JobState.FAILED, JobState.CANCELLED):
            raise JobStoreError(f"job {job_id} is {job.state}: only failed or cancelled jobs retry")
        with self._transaction():
            self._requeue(job_id, job.priority, time.time())
        return self.get(job_id)

    def rerun(self, job_id: int) -> Job:
        """Run a job again from the start, whatever state it is in (except running)."""
        job = self.get(job_id)
        if job.state is JobState.RUNNING:
            raise JobStoreError(f"job {job_id} is running: cancel it first")
        with self._transaction():
            self.restart_from_zero(job_id)
            self._requeue(job_id, job.priority, time.time())
        return self.get(job_id)

    def _requeue(self, job_id: int, priority: int, now: float) -> None:
        self._db.execute(
            "UPDATE jobs SET state = 'queued', priority = ?, progress = 0, outputs = '[]', "
            "error = NULL, retryable = 1, attempts = 0, worker = NULL, started_at = NULL, "
            "finished_at = NULL, updated_at = ? WHERE id = ?",
            (priority, now, job_id),
        )

    def cancel(self, job_id: int) -> Job:
        """Cancel a queued or running job; the engine running it stops at its next check."""
        with self._lock:
            changed = self._update(
                job_id,
                (JobState.QUEUED, JobState.RUNNING),
                state=JobState.CANCELLED,
                worker=None,
                finished_at=time.time(),
            )
            job = self.get(job_id)
        if not changed:
            raise JobStoreError(f"job {job_id} is {job.state}: nothing to cancel")
        return job

    def clear(self) -> int:
        """Forget finished jobs (done, failed, cancelled); returns how many."""
        finished = [s.value for s in JobState if s.finished]
        with self._lock:
            cursor = self._db.execute(
                f"DELETE FROM jobs WHERE state IN ({','.join('?' * len(finished))})", finished
            )
        return cursor.rowcount

    # -- the queue, from the engine's side ----------------------------------------------

    def claim(self, job_id: int, worker: int) -> Job | None:
        """Take a queued job for ``worker`` (a pid); None when someone else got it first."""
        now = time.time()
        with self._lock:
            cursor = self._db.execute(
                "UPDATE jobs SET state = 'running', worker = ?, attempts = attempts + 1, "
                "started_at = coalesce(started_at, ?), updated_at = ? "
                "WHERE id = ? AND state = 'queued'",
                (worker, now, now, job_id),
            )
            return self.get(job_id) if cursor.rowcount else None

    def set_duration(self, job_id: int, duration: float) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET duration = ? WHERE id = ?", (duration, job_id))

    def save_progress(
        self,
        job_id: int,
        segments: Sequence[Segment],
        progress: float,
        checkpoint: str | None = None,
        *,
        replace: bool = False,
    ) -> bool:
        """Persist segments (and where to resume after them) in one transaction.

        ``replace`` drops the job's earlier segments first. False when the job is no longer
        running (cancelled meanwhile): nothing is written then.
        """
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE jobs SET progress = ?, checkpoint = coalesce(?, checkpoint), "
                "updated_at = ? WHERE id = ? AND state = 'running'",
                (progress, checkpoint, time.time(), job_id),
            )
            if not cursor.rowcount:
                return False
            if replace:
                db.execute("DELETE FROM segments WHERE job_id = ?", (job_id,))
            db.executemany(
                "INSERT INTO segments (job_id, position, start_s, end_s, segment) VALUES "
                "(?, (SELECT count(*) FROM segments WHERE job_id = ?), ?, ?, ?)",
                [(job_id, job_id, s.start, s.end, segment_to_json(s)) for s in segments],
            )
            return True

    def checkpoint(self, job_id: int) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT checkpoint FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else row[0]

    def restart_from_zero(self, job_id: int) -> None:
        """Forget a job's segments and checkpoint (its work is redone)."""
        with self._transaction() as db:
            db.execute("DELETE FROM segments WHERE job_id = ?", (job_id,))
            db.execute("UPDATE jobs SET checkpoint = NULL, progress = 0 WHERE id = ?", (job_id,))

    def is_running(self, job_id: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is not None and row[0] == JobState.RUNNING

    def finish(self, job_id: int, outputs: Sequence[Path | str]) -> bool:
        return self._update(
            job_id,
            (JobState.RUNNING,),
            state=JobState.DONE,
            progress=1.0,
            outputs=json.dumps([str(p) for p in outputs]),
            worker=None,
            finished_at=time.time(),
        )

    def fail(self, job_id: int, message: str, retryable: bool = True) -> bool:
        return self._update(
            job_id,
            (JobState.QUEUED, JobState.RUNNING),
            state=JobState.FAILED,
            error=message,
            retryable=int(retryable),
            worker=None,
            finished_at=time.time(),
        )

    def release(self, job_id: int) -> bool:
        """Put a running job back in the queue (the engine is stopping); segments stay.

        The attempt is not counted: only engines that stop without releasing (crashes) are.
        """
        with self._lock:
            cursor = self._db.execute(
                "UPDATE jobs SET state = 'queued', worker = NULL, attempts = max(attempts - 1, 0), "
                "updated_at = ? WHERE id = ? AND state = 'running'",
                (time.time(), job_id),
            )
        return cursor.rowcount > 0

    def requeue(self, job_id: int) -> bool:
        """Put a running job back in the queue after its worker crashed (a Ray worker lost);
        unlike ``release``, the attempt counts, as ``recover`` counts an engine's crash."""
        return self._update(job_id, (JobState.RUNNING,), state=JobState.QUEUED, worker=None)

    def recover(
        self, is_alive: Callable[[int], bool] = pid_alive, now: float | None = None
    ) -> tuple[list[Job], list[Job]]:
        """Requeue running jobs whose engine is gone; returns (requeued, failed).

        A job that has already stopped ``MAX_ATTEMPTS`` engines fails (retryable) instead.
        """
        now = time.time() if now is None else now
        requeued: list[Job] = []
        failed: list[Job] = []
        with self._lock:
            rows = self._db.execute(
                "SELECT id, worker, attempts, updated_at FROM jobs WHERE state = 'running'"
            ).fetchall()
            for job_id, worker, attempts, updated_at in rows:
                if worker is not None and is_alive(worker) and now - updated_at < STALE_AFTER_S:
                    continue
                if attempts >= MAX_ATTEMPTS:
                    message = f"the engine stopped {attempts} times while transcribing this file"
                    if self._update(
                        job_id,
                        (JobState.RUNNING,),
                        state=JobState.FAILED,
                        error=f"{self.get(job_id).spec.input_path}: {message}",
                        retryable=1,
                        finished_at=now,
                    ):
                        failed.append(self.get(job_id))
                elif self._update(job_id, (JobState.RUNNING,), state=JobState.QUEUED, worker=None):
                    requeued.append(self.get(job_id))
        return requeued, failed

    def _update(self, job_id: int, from_states: Sequence[JobState], **values: object) -> bool:
        """Set ``values`` on the job if it is in one of ``from_states``; whether it was."""
        values["updated_at"] = time.time()
        values = {k: v.value if isinstance(v, JobState) else v for k, v in values.items()}
        assignments = ", ".join(f"{name} = ?" for name in values)
        marks = ",".join("?" * len(from_states))
        with self._lock:
            cursor = self._db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND state IN ({marks})",
                (*values.values(), job_id, *(s.value for s in from_states)),
            )
        return cursor.rowcount > 0


class _GuardedConnection(sqlite3.Connection):
    """A connection whose damage surfaces as one line naming the file, not a traceback."""

    label = "job database"  # the file's path, once connected

    def execute(self, sql: str, parameters: Sequence | dict = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError:
            raise  # locked, full disk, …: not damage, and the store's callers say what failed
        except sqlite3.DatabaseError as exc:
            raise JobStoreError(_damaged(self, exc)) from exc

    def executemany(self, sql: str, seq_of_parameters: Iterable, /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, seq_of_parameters)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise JobStoreError(_damaged(self, exc)) from exc


def _damaged(db: sqlite3.Connection, exc: sqlite3.DatabaseError) -> str:
    if "not a database" in str(exc):
        raise exc  # not a database at all: the store refuses it as such, moves nothing
    name = getattr(db, "label", "job database")
    return f"{name}: job database is damaged ({exc}); the next voxtune command moves it aside"


def _is_intact(db: sqlite3.Connection) -> bool:
    """Whether every page reads back as it should (a new, empty file is intact)."""
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
    except JobStoreError:
        return False
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise  # not ours to move: perhaps some other file given by mistake
        return False
    return rows == [("ok",)]


def _move_aside(path: Path) -> Path:
    """Rename a damaged database (with its -wal and -shm) out of the way; the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target


def _statements(script: str) -> Iterator[str]:
    """Split a SQL script; executescript() would commit the transaction it runs in."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):  # a tokenizer: knows comments and strings
            yield pending
            pending = ""


def _rules_json(spec: JobSpec) -> str | None:
    return None if spec.rules == DEFAULT_RULES else json.dumps(rules_to_dict(spec.rules))


def _job_from_row(row: Sequence) -> Job:
    """The one mapping from a ``jobs`` row to a ``Job``."""
    (job_id, input_path, settings, rules, aligner, state, priority, progress, duration, outputs,
     error, retryable, attempts, worker, created_at, started_at, finished_at,
     content) = row  # fmt: skip
    values = json.loads(settings)
    spec = JobSpec(
        input_path=input_path,
        output_dir=values["output_dir"],
        formats=tuple(values["formats"]),
        model=values["model"],
        options=options_from_dict(values["options"]),
        rules=DEFAULT_RULES if rules is None else rules_from_dict(json.loads(rules)),
        aligner=aligner,
        content=content,
    )
    return Job(
        id=job_id,
        spec=spec,
        state=JobState(state),
        priority=priority,
        progress=progress,
        duration=duration,
        outputs=tuple(json.loads(outputs)),
        error=error,
        retryable=bool(retryable),
        attempts=attempts,
        worker=worker,
        created_at=created_at,
        started_at=started_at,
        finished_at=finished_at,
    )
