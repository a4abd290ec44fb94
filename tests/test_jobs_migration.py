"""A job database made by the Voxtune before subtitle rules and aligners were part of a job
opens, migrates, and reads its jobs back with the defaults; new jobs keep both."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from voxtune.engine.jobs import JobSpec, JobState, JobStore
from voxtune.engine.jobs.store import SCHEMA_VERSION
from voxtune.engine.subtitles import DEFAULT_RULES, SubtitleRules
from voxtune.engine.types import TranscriptionOptions

# engine/jobs/schema.sql as it was at user_version 1, copied on purpose: the migration must
# keep working on databases made from this text, whatever the schema file says later.
OLD_SCHEMA = """
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    job_key     TEXT    NOT NULL UNIQUE,  -- JobSpec.key(): same input + options + output
    input_path  TEXT    NOT NULL,
    settings    TEXT    NOT NULL,         -- JSON: options, formats, output_dir, model
    state       TEXT    NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    priority    INTEGER NOT NULL DEFAULT 0,  -- higher runs first
    progress    REAL    NOT NULL DEFAULT 0,
    duration    REAL,                        -- seconds of audio, once probed
    outputs     TEXT    NOT NULL DEFAULT '[]',  -- JSON list of written files
    error       TEXT,
    retryable   INTEGER NOT NULL DEFAULT 1,
    attempts    INTEGER NOT NULL DEFAULT 0,
    worker      INTEGER,                     -- pid of the engine running it
    checkpoint  TEXT,                        -- JSON of longform.Checkpoint: where to resume
    created_at  REAL    NOT NULL,
    started_at  REAL,
    finished_at REAL,
    updated_at  REAL    NOT NULL
);

CREATE INDEX jobs_queue ON jobs (state, priority DESC, created_at, id);

CREATE TABLE segments (
    job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,  -- 0, 1, 2 … in the order the model produced them
    start_s  REAL    NOT NULL,
    end_s    REAL    NOT NULL,
    segment  TEXT    NOT NULL,  -- JSON of voxtune.engine.types.Segment
    PRIMARY KEY (job_id, position)
);
"""
OPTIONS = TranscriptionOptions(beam_size=1)


def old_key(spec: JobSpec) -> str:
    """``JobSpec.key()`` as the old Voxtune computed it (no rules, no aligner)."""
    identity = {
        k: v for k, v in spec.to_dict().items() if k not in ("rules", "aligner", "content")
    }  # the five fields a spec had then
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def make_old_database(path: Path, specs: list[JobSpec], outputs: Path) -> None:
    """A version-1 database with one finished job per spec, as the old store wrote them."""
    with sqlite3.connect(path) as raw:
        raw.executescript(OLD_SCHEMA)
        raw.execute("PRAGMA user_version = 1")
        for spec in specs:
            written = outputs / f"{spec.stem}.srt"
            written.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n\n")
            settings = {k: v for k, v in spec.to_dict().items() if k not in ("input_path",
                        "rules", "aligner", "content")}  # fmt: skip
            raw.execute(
                "INSERT INTO jobs (job_key, input_path, settings, state, progress, outputs, "
                "created_at, updated_at) VALUES (?, ?, ?, 'done', 1, ?, 1.0, 1.0)",
                (old_key(spec), spec.input_path, json.dumps(settings, sort_keys=True),
                 json.dumps([str(written)])),
            )  # fmt: skip
    raw.close()


def columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as raw:
        names = [r[1] for r in raw.execute("PRAGMA table_info(jobs)")]
    raw.close()
    return names


def test_an_old_database_opens_and_its_jobs_read_back_with_defaults(tmp_path: Path) -> None:
    db, outputs = tmp_path / "old.sqlite3", tmp_path / "out"
    outputs.mkdir()
    specs = [JobSpec.for_file(tmp_path / f"{n}.ogg", outputs, ("srt",), options=OPTIONS)
             for n in ("a", "b")]  # fmt: skip
    make_old_database(db, specs, outputs)
    assert "rules" not in columns(db)

    with JobStore(db) as store:
        jobs = store.jobs()
        assert [j.spec for j in jobs] == specs
        assert all(j.spec.rules == DEFAULT_RULES and j.spec.aligner is None for j in jobs)
        assert all(j.state is JobState.DONE for j in jobs)
        # The same command after the upgrade is the same job: done, so not done again.
        again = store.submit(specs[0])
        assert (again.id, again.state) == (jobs[0].id, JobState.DONE)
        # Other rules are another job, stored with them.
        narrow = JobSpec.for_file(tmp_path / "a.ogg", outputs, ("srt",), options=OPTIONS,
                                  rules=SubtitleRules(max_line_chars=20))  # fmt: skip
        new = store.submit(narrow)
        assert new.id not in {j.id for j in jobs} and new.state is JobState.QUEUED
        assert store.get(new.id).spec.rules.max_line_chars == 20

    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    raw.close()
    fresh = tmp_path / "fresh.sqlite3"
    JobStore(fresh).close()
    assert columns(db) == columns(fresh)  # migrated and created alike


def test_rules_and_aligner_survive_the_store(tmp_path: Path) -> None:
    rules = SubtitleRules(max_line_chars=20, max_lines=1, min_duration=0.5, max_duration=4.0)
    spec = JobSpec.for_file(tmp_path / "a.ogg", tmp_path / "out", ("srt", "json"),
                            options=OPTIONS, rules=rules, aligner="/models/aligner")  # fmt: skip
    plain = JobSpec.for_file(tmp_path / "a.ogg", tmp_path / "out", ("srt", "json"), options=OPTIONS)
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job = store.submit(spec)
        other = store.submit(plain)
        assert job.id != other.id
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        assert store.get(job.id).spec == spec
        assert store.get(other.id).spec == plain
        assert store.find(spec) == store.get(job.id)
    assert spec.decoding_key() != plain.decoding_key()  # another transcriber
    assert JobSpec.for_file(tmp_path / "a.ogg", tmp_path / "out", rules=rules).decoding_key() == (
        JobSpec.for_file(tmp_path / "a.ogg", tmp_path / "out").decoding_key()
    )  # rules only cut cues: such jobs may share a batch


def test_a_rule_a_newer_voxtune_added_is_dropped(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    spec = JobSpec.for_file(tmp_path / "a.ogg", tmp_path / "out",
                            rules=SubtitleRules(max_line_chars=30))  # fmt: skip
    with JobStore(db) as store:
        job = store.submit(spec)
    with sqlite3.connect(db) as raw:
        raw.execute(
            "UPDATE jobs SET rules = ? WHERE id = ?",
            (json.dumps({"max_line_chars": 30, "karaoke": True}), job.id),
        )
    raw.close()
    with JobStore(db) as store:
        assert store.get(job.id).spec.rules == SubtitleRules(max_line_chars=30)
