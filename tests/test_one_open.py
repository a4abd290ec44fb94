"""Every file is opened once: its length and its audio come from one handle.

``av.open`` is wrapped (the real function still runs) to count how often each file is opened
by the CLI's ``transcribe``, the job runner, and ``AudioFile`` itself.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from test_engine_jobs import OPTIONS, long_speech, short_prompts  # noqa: F401

from voxtune.engine import protocol as p
from voxtune.engine.audio import AudioFile, decode_audio, probe
from voxtune.engine.jobs import JobSpec, JobStore
from voxtune.engine.process import EngineConfig


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Resolved path -> times ``av.open`` opened it, while the test runs."""
    counted: Counter[str] = Counter()
    real_open = av.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        name = str(file).removeprefix("file:")
        counted[str(Path(name).resolve())] += 1
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    return counted


def test_audio_file_probes_and_decodes_from_one_handle(
    long_speech: Path,  # noqa: F811
    opens: Counter[str],
) -> None:
    with AudioFile(long_speech) as media:
        described = media.probe()
        whole = media.decode()
        again = media.decode()  # a second read seeks back on the same handle
        tail = media.decode(start=30.0)
    assert opens == {str(long_speech.resolve()): 1}
    assert described == probe(long_speech)
    assert described.duration == pytest.approx(len(whole) / 16000, abs=0.01)
    np.testing.assert_array_equal(whole, decode_audio(long_speech))
    np.testing.assert_array_equal(again, whole)
    np.testing.assert_array_equal(tail, decode_audio(long_speech, start=30.0))


def test_chunks_after_a_probe_join_to_the_whole(
    long_speech: Path,  # noqa: F811
    opens: Counter[str],
) -> None:
    with AudioFile(long_speech) as media:
        assert media.duration > 40
        joined = np.concatenate(list(media.chunks(chunk_seconds=7.0)))
    assert sum(opens.values()) == 1
    np.testing.assert_array_equal(joined, decode_audio(long_speech))


def test_cli_transcribe_opens_each_file_once(
    ivr_set: list, tmp_path: Path, opens: Counter[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from voxtune.app.cli import main

    files = short_prompts(ivr_set)[:2]
    opens.clear()  # choosing them probed every prompt
    code = main(["transcribe", *map(str, files), "-o", str(tmp_path), "--beam-size", "1", "-q"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{f.stem}.srt" for f in files)
    assert opens == {str(f.resolve()): 1 for f in files}


class Events:
    def __init__(self) -> None:
        self.seen: list[p.Event] = []
        self.changed = threading.Condition()

    def emit(self, event: p.Event) -> None:
        with self.changed:
            self.seen.append(event)
            self.changed.notify_all()

    def wait(self, done: Callable[[list[p.Event]], bool], timeout: float = 300.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: done(self.seen), timeout), self.seen


def test_job_runner_probes_and_decodes_each_file_with_one_open(
    ivr_set: list,
    long_speech: Path,  # noqa: F811
    tmp_path: Path,
    opens: Counter[str],
) -> None:
    from voxtune.engine.jobs.runner import BatchRunner

    files = [*short_prompts(ivr_set)[:3], long_speech]  # three share a batch, one goes long
    opens.clear()  # choosing them probed every prompt
    config = EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), threads=1)
    events = Events()
    runner = BatchRunner(JobStore(config.db_path), events.emit, config)
    ids = [
        runner.submit(JobSpec.for_file(f, tmp_path / "out", options=OPTIONS), 0).id for f in files
    ]
    runner.start()
    try:
        events.wait(lambda seen: {e.job_id for e in seen if isinstance(e, p.JobDone)} == set(ids))
    finally:
        runner.stop(timeout=30.0)
    failed = [e for e in events.seen if isinstance(e, p.JobFailed)]
    assert not failed
    assert opens == {str(f.resolve()): 1 for f in files}
    assert len(list((tmp_path / "out").glob("*.srt"))) == len(files)
