"""Issue 19, items 2, 4 and 7: a changed input is transcribed again, a damaged job database is
moved aside (never written into), and the database is the user's alone to read."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from voxtune.engine.jobs import JobSpec, JobState, JobStore, JobStoreError
from voxtune.engine.types import Segment, Word

OPTIONS_FORMATS = ("srt",)


def segment(start: float, text: str) -> Segment:
    word = Word(f" {text}", start, start + 0.5, 0.9)
    return Segment(start, start + 0.5, word.text, (word,), "en", -0.2, 0.01)


def finish(store: JobStore, job_id: int, output: Path) -> None:
    """Run a job as an engine would: claim, one segment, outputs written, done."""
    assert store.claim(job_id, os.getpid()) is not None
    assert store.save_progress(job_id, [segment(0.0, "old")], 1.0, replace=True)
    output.write_text("1\n00:00:00,000 --> 00:00:00,500\nold\n\n")
    assert store.finish(job_id, [output])


# -- item 2: a job is its input's content too -------------------------------------------


def test_a_re_recorded_file_is_transcribed_again(tmp_path: Path) -> None:
    audio, out = tmp_path / "take.wav", tmp_path / "out"
    out.mkdir()
    audio.write_bytes(b"RIFF first take" + bytes(5000))
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        first = store.submit(JobSpec.for_file(audio, out, OPTIONS_FORMATS))
        finish(store, first.id, out / "take.srt")
        same = store.submit(JobSpec.for_file(audio, out, OPTIONS_FORMATS))
        assert (same.id, same.state) == (first.id, JobState.DONE)  # unchanged: kept

        audio.write_bytes(b"RIFF second take, other words" + bytes(5000))
        again = store.submit(JobSpec.for_file(audio, out, OPTIONS_FORMATS))
        assert again.id == first.id and again.state is JobState.QUEUED
        assert store.segments(again.id) == []  # nothing of the old take is resumed from
        assert store.checkpoint(again.id) is None and again.progress == 0.0
        assert again.spec.content != first.spec.content


def test_same_size_new_bytes_is_a_change(tmp_path: Path) -> None:
    """A re-recording of equal length (same size): the hash tells them apart."""
    audio, out = tmp_path / "take.wav", tmp_path / "out"
    out.mkdir()
    audio.write_bytes(b"A" * 3000)
    stamp = audio.stat().st_mtime_ns
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        first = store.submit(JobSpec.for_file(audio, out, OPTIONS_FORMATS))
        finish(store, first.id, out / "take.srt")
        audio.write_bytes(b"B" * 3000)
        os.utime(audio, ns=(stamp, stamp))  # even with the old time put back
        assert store.submit(JobSpec.for_file(audio, out, OPTIONS_FORMATS)).state is JobState.QUEUED


# -- item 4: a damaged database ---------------------------------------------------------


def damaged_database(path: Path) -> None:
    """A job database with many jobs whose pages after the first are overwritten."""
    with JobStore(path) as store:
        for n in range(300):
            store.submit(JobSpec.for_file(path.parent / f"file-{n:03d}.ogg", path.parent / "out"))
    with sqlite3.connect(path) as raw:  # everything into the main file, WAL emptied
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    size = path.stat().st_size
    assert size > 8 * 4096
    with open(path, "r+b") as handle:  # the header page stays intact
        handle.seek(4096)
        handle.write(bytes((i * 37 + 11) % 256 for i in range(size - 4096)))


def test_a_damaged_database_is_moved_aside_and_a_new_one_started(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    damaged_database(path)
    damaged_bytes = path.read_bytes()
    with JobStore(path) as store:
        assert store.moved_aside is not None and store.moved_aside.name.startswith(
            "jobs.sqlite3.damaged-"
        )
        assert store.moved_aside.read_bytes() == damaged_bytes  # kept as it was, for forensics
        assert str(path) in store.notice and store.moved_aside.name in store.notice
        assert store.jobs() == []
        job = store.submit(JobSpec.for_file(tmp_path / "new.ogg", tmp_path / "out"))
        assert store.get(job.id).state is JobState.QUEUED
    with JobStore(path) as store:  # the new one is sound: nothing moved again
        assert store.moved_aside is None and len(store.jobs()) == 1


def test_damage_found_after_opening_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with JobStore(path) as store:
        for n in range(300):
            store.submit(JobSpec.for_file(tmp_path / f"file-{n:03d}.ogg", tmp_path / "out"))
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with open(path, "r+b") as handle:
            handle.seek(3 * 4096)
            handle.write(b"\xff" * 4 * 4096)
        store._db.execute("PRAGMA shrink_memory")  # forget cached pages: read the damage
        with pytest.raises(JobStoreError) as caught:
            store.jobs()
            store.submit(JobSpec.for_file(tmp_path / "x.ogg", tmp_path / "out"))
    message = str(caught.value)
    assert message.startswith(f"{path}: job database is damaged") and "\n" not in message


def run_voxtune(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxtune.app", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "VOXTUNE_HOME": str(home), "TQDM_DISABLE": "1"},
        timeout=120,
    )


@pytest.mark.parametrize("action", ["list", "clear", "retry", "cancel"])
def test_jobs_commands_on_a_damaged_database(tmp_path: Path, action: str) -> None:
    damaged_database(tmp_path / "jobs.sqlite3")
    args = ["jobs", action] + (["1"] if action in ("retry", "cancel") else [])
    result = run_voxtune(tmp_path, *args)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert any("job database was damaged; moved to jobs.sqlite3.damaged-" in x for x in lines)
    assert len(list(tmp_path.glob("jobs.sqlite3.damaged-*"))) == 1
    if action == "list":
        assert result.returncode == 0 and result.stdout.strip() == "no jobs"
    elif action in ("retry", "cancel"):  # the new database has no job 1: one line says so
        assert result.returncode == 1 and lines[-1].startswith("voxtune: error:")


# -- item 7: the database names every file transcribed ----------------------------------


def test_the_job_database_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with JobStore(tmp_path / "jobs.sqlite3") as store:
            store.submit(JobSpec.for_file(tmp_path / "a.ogg", tmp_path / "out"))
            for name in ("jobs.sqlite3", "jobs.sqlite3-wal"):
                assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    finally:
        os.umask(old)
