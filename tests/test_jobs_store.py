"""The job store on a real SQLite file: identity, order, persistence, recovery, errors."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from voxtune.engine.jobs import JobSpec, JobState, JobStore, JobStoreError
from voxtune.engine.jobs.codec import options_from_dict, options_to_dict, segment_to_json
from voxtune.engine.jobs.store import MAX_ATTEMPTS, SCHEMA_VERSION
from voxtune.engine.types import Checkpoint, Segment, TranscriptionOptions, Word


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite3"


@pytest.fixture
def store(db_path: Path) -> JobStore:
    with JobStore(db_path) as opened:
        yield opened


def spec(tmp_path: Path, name: str, **changes: object) -> JobSpec:
    return JobSpec.for_file(tmp_path / name, tmp_path / "out", ("srt", "json"), **changes)


def segment(start: float, text: str) -> Segment:
    words = tuple(
        Word(f" {w}", start + i * 0.3, start + i * 0.3 + 0.25, 0.9 - i / 100)
        for i, w in enumerate(text.split())
    )
    return Segment(start, words[-1].end, "".join(w.text for w in words), words, "en", -0.2, 0.01)


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


def test_the_database_is_wal_with_the_current_schema(store: JobStore, db_path: Path) -> None:
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"jobs", "segments"} <= tables


def test_the_same_spec_is_the_same_job(store: JobStore, tmp_path: Path) -> None:
    first = store.submit(spec(tmp_path, "a.ogg"))
    again = store.submit(spec(tmp_path, "a.ogg"))
    other = store.submit(spec(tmp_path, "a.ogg", options=TranscriptionOptions(beam_size=1)))
    assert first.id == again.id != other.id
    assert first.state is JobState.QUEUED
    assert store.get(first.id).spec == spec(tmp_path, "a.ogg")  # the row maps back exactly


def test_the_queue_runs_by_priority_then_age(store: JobStore, tmp_path: Path) -> None:
    old = store.submit(spec(tmp_path, "old.ogg"))
    new = store.submit(spec(tmp_path, "new.ogg"))
    urgent = store.submit(spec(tmp_path, "urgent.ogg"), priority=5)
    assert [j.id for j in store.queued()] == [urgent.id, old.id, new.id]


def test_a_job_is_claimed_by_one_engine_only(db_path: Path, tmp_path: Path) -> None:
    with JobStore(db_path) as one, JobStore(db_path) as other:
        job = one.submit(spec(tmp_path, "a.ogg"))
        assert one.claim(job.id, worker=os.getpid()) is not None
        assert other.claim(job.id, worker=os.getpid()) is None
        assert other.get(job.id).state is JobState.RUNNING


def test_segments_and_checkpoint_survive_reopening(db_path: Path, tmp_path: Path) -> None:
    produced = [segment(0.0, "press one now"), segment(2.0, "followed by the pound key")]
    checkpoint = Checkpoint(((0.0, 3.5), (4.0, 9.0)), 1, 4.0, (50257, 1212, 318), "en")
    with JobStore(db_path) as store:
        job = store.submit(spec(tmp_path, "a.ogg"))
        store.claim(job.id, os.getpid())
        assert store.save_progress(job.id, produced[:1], 0.2, checkpoint.to_json())
        assert store.save_progress(job.id, produced[1:], 0.4, checkpoint.to_json())
    with JobStore(db_path) as reopened:
        assert reopened.segments(job.id) == produced  # floats, words and all
        assert Checkpoint.from_json(reopened.checkpoint(job.id)) == checkpoint
        assert reopened.get(job.id).progress == 0.4


def test_a_cancelled_job_takes_no_more_segments(store: JobStore, tmp_path: Path) -> None:
    job = store.submit(spec(tmp_path, "a.ogg"))
    store.claim(job.id, os.getpid())
    assert store.cancel(job.id).state is JobState.CANCELLED
    assert not store.save_progress(job.id, [segment(0.0, "too late")], 0.5, None)
    assert store.segments(job.id) == []
    assert not store.finish(job.id, [tmp_path / "out" / "a.srt"])
    assert store.get(job.id).state is JobState.CANCELLED


def test_a_done_job_is_skipped_until_its_outputs_go(store: JobStore, tmp_path: Path) -> None:
    job = store.submit(spec(tmp_path, "a.ogg"))
    store.claim(job.id, os.getpid())
    store.save_progress(job.id, [segment(0.0, "hello")], 1.0, None)
    output = tmp_path / "out" / "a.srt"
    output.parent.mkdir()
    output.write_text("1\n00:00:00,000 --> 00:00:00,250\nhello\n")
    assert store.finish(job.id, [output])
    assert store.submit(spec(tmp_path, "a.ogg")).state is JobState.DONE
    output.unlink()
    again = store.submit(spec(tmp_path, "a.ogg"))
    assert again.state is JobState.QUEUED and again.id == job.id
    assert store.segments(job.id) == [] and store.checkpoint(job.id) is None  # from scratch


def test_a_failed_job_resubmitted_resumes_its_work(store: JobStore, tmp_path: Path) -> None:
    job = store.submit(spec(tmp_path, "a.ogg"))
    store.claim(job.id, os.getpid())
    store.save_progress(job.id, [segment(0.0, "hello")], 0.3, '{"seek": 1}')
    assert store.fail(job.id, "a.ogg: disk full", retryable=True)
    failed = store.get(job.id)
    assert (failed.state, failed.error) == (JobState.FAILED, "a.ogg: disk full")
    again = store.submit(spec(tmp_path, "a.ogg"))
    assert again.state is JobState.QUEUED and again.error is None
    assert len(store.segments(job.id)) == 1 and store.checkpoint(job.id) == '{"seek": 1}'


def test_rerun_starts_over(store: JobStore, tmp_path: Path) -> None:
    job = store.submit(spec(tmp_path, "a.ogg"))
    store.claim(job.id, os.getpid())
    store.save_progress(job.id, [segment(0.0, "hello")], 1.0, None)
    store.finish(job.id, [])
    assert store.rerun(job.id).state is JobState.QUEUED
    assert store.segments(job.id) == []


def test_jobs_of_a_dead_engine_are_requeued(store: JobStore, tmp_path: Path) -> None:
    orphan = store.submit(spec(tmp_path, "orphan.ogg"))
    mine = store.submit(spec(tmp_path, "mine.ogg"))
    store.claim(orphan.id, worker=dead_pid())
    store.claim(mine.id, worker=os.getpid())
    requeued, failed = store.recover()
    assert [j.id for j in requeued] == [orphan.id] and failed == []
    assert store.get(orphan.id).state is JobState.QUEUED
    assert store.get(mine.id).state is JobState.RUNNING  # its engine (this process) lives


def test_a_job_that_keeps_killing_engines_fails(store: JobStore, tmp_path: Path) -> None:
    job = store.submit(spec(tmp_path, "poison.ogg"))
    for _ in range(MAX_ATTEMPTS):
        store.claim(job.id, worker=dead_pid())
        requeued, failed = store.recover()
    assert requeued == [] and [j.id for j in failed] == [job.id]
    failed_job = store.get(job.id)
    assert failed_job.state is JobState.FAILED and failed_job.retryable
    assert failed_job.error == (
        f"{tmp_path / 'poison.ogg'}: the engine stopped {MAX_ATTEMPTS} times while "
        "transcribing this file"
    )


def test_an_orderly_stop_does_not_count_as_an_attempt(store: JobStore, tmp_path: Path) -> None:
    job = store.submit(spec(tmp_path, "a.ogg"))
    for _ in range(MAX_ATTEMPTS + 2):
        store.claim(job.id, worker=os.getpid())
        assert store.release(job.id)
    assert store.get(job.id).attempts == 0
    store.claim(job.id, worker=dead_pid())
    requeued, _ = store.recover()
    assert [j.id for j in requeued] == [job.id]


def test_clear_forgets_finished_jobs_only(store: JobStore, tmp_path: Path) -> None:
    done, failed, queued = (store.submit(spec(tmp_path, f"{n}.ogg")) for n in "abc")
    store.claim(done.id, os.getpid())
    store.finish(done.id, [])
    store.fail(failed.id, "b.ogg: corrupt or truncated audio", retryable=False)
    assert store.clear() == 2
    assert [j.id for j in store.jobs()] == [queued.id]


def test_options_round_trip_through_json() -> None:
    options = TranscriptionOptions(language="de", beam_size=2, temperatures=(0.0, 0.5), vad=False)
    assert options_from_dict(options_to_dict(options)) == options
    newer = {**options_to_dict(options), "a_field_from_the_future": 1}
    assert options_from_dict(newer) == options


# -- errors a user can meet -----------------------------------------------------------


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "jobs.sqlite3"
    bogus.write_bytes(b"this is not SQLite, just some text that happens to be here" * 40)
    with pytest.raises(JobStoreError) as caught:
        JobStore(bogus)
    assert str(caught.value) == (f"{bogus}: not a usable job database (file is not a database)")


def test_a_database_from_a_newer_voxtune_is_refused(db_path: Path) -> None:
    JobStore(db_path).close()
    with sqlite3.connect(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JobStoreError) as caught:
        JobStore(db_path)
    assert str(caught.value) == (
        f"{db_path}: made by a newer Voxtune (schema {SCHEMA_VERSION + 1}, "
        f"this one knows up to {SCHEMA_VERSION})"
    )


def test_asking_for_a_job_that_is_not_there(store: JobStore) -> None:
    with pytest.raises(JobStoreError, match=r"jobs\.sqlite3: no job 42$"):
        store.get(42)


def test_only_failed_or_cancelled_jobs_retry(store: JobStore, tmp_path: Path) -> None:
    job = store.submit(spec(tmp_path, "a.ogg"))
    with pytest.raises(JobStoreError) as caught:
        store.retry(job.id)
    assert str(caught.value) == f"job {job.id} is queued: only failed or cancelled jobs retry"
    store.cancel(job.id)
    assert store.retry(job.id).state is JobState.QUEUED


def test_a_finished_job_cannot_be_cancelled(store: JobStore, tmp_path: Path) -> None:
    job = store.submit(spec(tmp_path, "a.ogg"))
    store.fail(job.id, "a.ogg: corrupt or truncated audio", retryable=False)
    with pytest.raises(JobStoreError) as caught:
        store.cancel(job.id)
    assert str(caught.value) == f"job {job.id} is failed: nothing to cancel"


def test_a_running_job_cannot_be_rerun(store: JobStore, tmp_path: Path) -> None:
    job = store.submit(spec(tmp_path, "a.ogg"))
    store.claim(job.id, os.getpid())
    with pytest.raises(JobStoreError) as caught:
        store.rerun(job.id)
    assert str(caught.value) == f"job {job.id} is running: cancel it first"


def test_edits_are_kept_beside_the_models_segments_and_go_with_the_job(
    store: JobStore, tmp_path: Path
) -> None:
    job = store.submit(spec(tmp_path, "talk.ogg"))
    assert store.edits(job.id) is None  # never edited
    model_said = [segment(0.0, "hello word"), segment(2.0, "good by")]
    corrected = [segment(0.0, "hello world"), segment(2.0, "goodbye")]
    with store._transaction() as db:  # as the runner persists a window's segments
        for i, s in enumerate(model_said):
            db.execute(
                "INSERT INTO segments (job_id, position, start_s, end_s, segment) "
                "VALUES (?, ?, ?, ?, ?)",
                (job.id, i, s.start, s.end, segment_to_json(s)),
            )
    store.save_edits(job.id, corrected[:1])
    store.save_edits(job.id, corrected)  # a second save replaces the first
    assert store.edits(job.id) == corrected
    assert store.segments(job.id) == model_said  # the model's own are untouched
    with pytest.raises(JobStoreError, match="no job 999"):
        store.save_edits(999, corrected)
    store.cancel(job.id)
    assert store.clear() == 1 and store.edits(job.id) is None  # cleared with its job
