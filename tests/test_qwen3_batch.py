"""Qwen3-ASR through the job queue: ``voxtune batch`` in a real process, and the runner's
resumable loop (cancel half-way, retry, same files as an uninterrupted run).

The long file has a speech region longer than one 30 s chunk, so its chunks overlap and the
job's checkpoint falls between two of them; the short files go through the batched path.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from pathlib import Path

import pytest
import srt
from test_batch_cli import finish, start_cli
from test_engine_jobs import short_prompts, write_long_speech

from voxtune.app import paths
from voxtune.engine import protocol as p
from voxtune.engine.families.qwen3_asr.layout import native_to_original
from voxtune.engine.jobs import JobSpec, JobStore
from voxtune.engine.process import EngineConfig
from voxtune.engine.types import TranscriptionOptions

OPTIONS = TranscriptionOptions(beam_size=1)
EVENT_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def original_layout(tiny_asr: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("qwen3") / "tiny-qwen-asr-package"
    native_to_original(tiny_asr, target)
    return target


@pytest.fixture(scope="module")
def long_speech(ivr_set: list, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_long_speech(ivr_set, tmp_path_factory.mktemp("speech") / "long.flac")


def check_document(folder: Path, stem: str, model: str) -> list[srt.Subtitle]:
    """The SRT parses into ordered cues inside the audio; the JSON says segment timing."""
    document = json.loads((folder / f"{stem}.json").read_text())
    assert document["model"] == model
    assert document["segments"], stem
    for segment in document["segments"]:
        assert segment["timing"] == "segment" and segment["words"] == []
        assert 0 <= segment["start"] < segment["end"] <= document["duration"]
        assert segment["language"] in ("en", "de", "fr", "es", "pt", None)
    cues = list(srt.parse((folder / f"{stem}.srt").read_text()))
    assert cues
    for earlier, later in itertools.pairwise(cues):
        assert earlier.end <= later.start
    assert cues[-1].end.total_seconds() <= document["duration"] + 1e-3
    return cues


@pytest.mark.parametrize("layout", ["native", "original"])
def test_batch_command_transcribes_long_and_short_files_with_qwen3(
    layout: str,
    tiny_asr: Path,
    original_layout: Path,
    long_speech: Path,
    ivr_set: list,
    tmp_path: Path,
) -> None:
    home, inputs, out = tmp_path / "home", tmp_path / "in", tmp_path / "out"
    home.mkdir()
    inputs.mkdir()
    shutil.copy(long_speech, inputs)
    prompts = short_prompts(ivr_set, 1.0, 3.0)[:2]
    for prompt in prompts:
        shutil.copy(prompt, inputs)
    model = tiny_asr if layout == "native" else original_layout
    command = ("batch", str(inputs), "-o", str(out), "-f", "srt,json", "--model", str(model))
    # "none": segment times even where the default aligner happens to be downloaded.
    options = ("--beam-size", "1", "-l", "en", "--aligner", "none")
    result, stderr = finish(start_cli(home, *command, *options))
    assert result == {"exit": 0, "heavy": []}, stderr
    assert stderr[-1] == "voxtune: 3 of 3 done"
    assert sorted(f.name for f in out.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in ("long", *(p.stem for p in prompts)) for ext in ("json", "srt")
    )
    name = model.name
    cues = check_document(out, "long", name)
    assert len(cues) >= 3  # the 34 s region gives two chunks, the 9 s one a third
    for prompt in prompts:
        check_document(out, prompt.stem, name)
    if layout == "original":  # converted once, into this home's model store
        assert (home / "models" / name / "voxtune-model.json").is_file()


def test_batch_with_an_aligner_writes_word_times(
    tiny_asr: Path, tiny_aligner: Path, long_speech: Path, ivr_set: list, tmp_path: Path
) -> None:
    """Both runner paths (a long file in windows, a short one batched) time each word."""
    home, inputs, out = tmp_path / "home", tmp_path / "in", tmp_path / "out"
    home.mkdir()
    inputs.mkdir()
    shutil.copy(long_speech, inputs)
    (prompt,) = short_prompts(ivr_set, 1.0, 3.0)[:1]
    shutil.copy(prompt, inputs)
    command = ("batch", str(inputs), "-o", str(out), "-f", "json,srt", "--model", str(tiny_asr))
    result, stderr = finish(
        start_cli(home, *command, "--aligner", str(tiny_aligner), "--beam-size", "1", "-l", "en")
    )
    assert result == {"exit": 0, "heavy": []}, stderr
    assert stderr[-1] == "voxtune: 2 of 2 done"
    for stem in ("long", prompt.stem):
        document = json.loads((out / f"{stem}.json").read_text())
        assert document["segments"], stem
        for segment in document["segments"]:
            assert segment["timing"] == "word" and segment["words"], (stem, segment)
            assert "".join(w["text"] for w in segment["words"]) == segment["text"]
            for word in segment["words"]:
                assert segment["start"] <= word["start"] <= word["end"] <= segment["end"]
        assert list(srt.parse((out / f"{stem}.srt").read_text()))
    with JobStore(home / "jobs.sqlite3") as store:
        assert {j.spec.aligner for j in store.jobs()} == {str(tiny_aligner)}


def test_an_aligner_with_a_whisper_model_fails_the_job_in_one_line(
    tiny_aligner: Path, ivr_set: list, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(paths.models_dir(), target_is_directory=True)
    args = ("batch", str(ivr_set[0].path), "-o", str(tmp_path), "--aligner", str(tiny_aligner))
    result, stderr = finish(start_cli(home, *args))
    assert result == {"exit": 1, "heavy": []}
    assert (
        # A job's failure names its file first, then what was wrong with the request.
        f"voxtune: error: {Path(ivr_set[0].path).resolve()}: {tiny_aligner}: "
        "a forced aligner times Qwen3-ASR words; whisper-tiny.en is a whisper model"
    ) in stderr
    assert stderr[-1] == "voxtune: 0 of 1 done, 1 failed"


class RunnerLog:
    """A BatchRunner in this process, its events collected; waits without sleeping."""

    def __init__(self, db: Path, cancel_long_at_first_segment: bool = False) -> None:
        from voxtune.engine.jobs.runner import BatchRunner

        self.store = JobStore(db)
        self.events: list[p.Event] = []
        self._changed = threading.Condition()
        self._cancel_first = cancel_long_at_first_segment
        config = EngineConfig(db_path=str(db), batch_size=1)
        self.runner = BatchRunner(self.store, self._emit, config)

    def _emit(self, event: p.Event) -> None:
        if self._cancel_first and isinstance(event, p.SegmentReady):
            self._cancel_first = False
            self.runner.cancel(event.job_id)  # stops at the end of this step
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait(self, kind: type, job_id: int) -> p.Event:
        def found() -> p.Event | None:
            return next(
                (e for e in self.events if isinstance(e, kind) and e.job_id == job_id), None
            )

        with self._changed:
            assert self._changed.wait_for(found, EVENT_TIMEOUT), f"no {kind.__name__}"
            return found()  # type: ignore[return-value]

    def close(self) -> None:
        self.runner.stop(EVENT_TIMEOUT)
        self.store.close()


def test_a_cancelled_qwen3_job_resumes_between_chunks_and_ends_identical(
    tiny_asr: Path, long_speech: Path, tmp_path: Path
) -> None:
    reference = RunnerLog(tmp_path / "reference.sqlite3")
    spec = JobSpec.for_file(long_speech, tmp_path / "a", ("srt", "json"), str(tiny_asr), OPTIONS)
    job = reference.runner.submit(spec, 0)
    reference.runner.start()
    done = reference.wait(p.JobDone, job.id)
    reference.close()
    expected = {Path(o).name: Path(o).read_bytes() for o in done.outputs}

    log = RunnerLog(tmp_path / "jobs.sqlite3", cancel_long_at_first_segment=True)
    spec = JobSpec.for_file(long_speech, tmp_path / "b", ("srt", "json"), str(tiny_asr), OPTIONS)
    job = log.runner.submit(spec, 0)
    log.runner.start()
    try:
        log.wait(p.JobCancelled, job.id)
        kept = log.store.segments(job.id)
        assert kept and not (tmp_path / "b").exists()
        checkpoint = json.loads(log.store.checkpoint(job.id) or "{}")
        assert checkpoint["region"] == 1  # stopped after the overlapping chunks of the first
        log.runner.retry(job.id)
        resumed = log.wait(p.JobDone, job.id)
        starts = [e for e in log.events if isinstance(e, p.JobStarted) and e.job_id == job.id]
        assert len(starts) == 2 and starts[1].resume_from == checkpoint["seek"] > 0
    finally:
        log.close()
    assert {Path(o).name: Path(o).read_bytes() for o in resumed.outputs} == expected
