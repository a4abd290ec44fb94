"""Jobs through the real engine process, on real speech: crash and resume, cancel, batches.

The long file is IVR prompts joined with known gaps: a first stretch of speech longer than
one 30 s window (so a job stops *inside* a speech region), then a pause, then more speech.
Decoding is greedy without sampling fallback, so two runs can be compared byte for byte.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from media_factory import REFERENCE_RATE, SPECS, concatenate_speech, truncate, write_media

from voxtune.engine import protocol as p
from voxtune.engine.client import EngineClient
from voxtune.engine.jobs import JobSpec, JobState, JobStore
from voxtune.engine.process import EngineConfig
from voxtune.engine.types import Segment, Transcript, TranscriptionOptions

# Greedy and no sampling fallback: deterministic, so "identical" can be checked exactly.
OPTIONS = TranscriptionOptions(beam_size=1, temperatures=(0.0,))
FORMATS = ("srt", "vtt", "txt", "json")
# The engine and the in-process reference compute with the same thread count: float sums split
# over another number of threads differ in the last digits, and outputs must match byte for byte.
THREADS = 2
EVENT_TIMEOUT = 180.0


def short_prompts(ivr_set: list, low: float = 2.5, high: float = 5.0) -> list[Path]:
    """IVR prompts between ``low`` and ``high`` seconds long, in manifest order."""
    from voxtune.engine.audio import probe

    return [u.path for u in ivr_set if low < probe(u.path).duration < high]


def write_long_speech(ivr_set: list, path: Path) -> Path:
    """About 47 s: 34 s of prompts 0.4 s apart (one speech region), 2.5 s of silence, 9 s."""
    prompts = short_prompts(ivr_set)
    first = concatenate_speech(prompts[:9], gap=0.4)
    second = concatenate_speech(prompts[9:12], gap=0.4)
    assert len(first) / REFERENCE_RATE > 30.0  # longer than one window
    pause = np.zeros(int(2.5 * REFERENCE_RATE), np.float32)
    signal_ = np.concatenate([first, pause, second])
    return write_media(path, signal_[None, :], REFERENCE_RATE, SPECS["flac"])


@dataclass(frozen=True)
class Reference:
    transcript: Transcript
    files: dict[str, bytes]  # output name -> content


@pytest.fixture(scope="session")
def long_speech(ivr_set: list, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_long_speech(ivr_set, tmp_path_factory.mktemp("speech") / "long.flac")


@pytest.fixture(scope="session")
def transcriber():  # type: ignore[no-untyped-def]  # -> Transcriber (imports torch)
    from voxtune.engine.models import load_model
    from voxtune.engine.transcribe import Transcriber

    return Transcriber(load_model())


@pytest.fixture(scope="session")
def reference(
    long_speech: Path, transcriber, tmp_path_factory: pytest.TempPathFactory
) -> Reference:
    """An uninterrupted transcription of the long file, by the Transcriber, in this process."""
    import torch

    from voxtune.engine.subtitles import write_outputs
    from voxtune.engine.torch_threads import set_torch_threads
    from voxtune.engine.transcribe import transcribe_file

    before = torch.get_num_threads()
    set_torch_threads(THREADS)
    try:
        transcript = transcribe_file(long_speech, transcriber, OPTIONS)
    finally:
        torch.set_num_threads(before)
    folder = tmp_path_factory.mktemp("reference")
    written = write_outputs(transcript, folder, long_speech.stem, FORMATS)
    return Reference(transcript, {f.name: f.read_bytes() for f in written})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineClient]:
    client = EngineClient(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), threads=THREADS))
    client.start()
    yield client
    client.stop()


class OutputWatcher:
    """Reads every file a user could see in a folder, as often as it can, while jobs run.

    Outputs are written once; so if every version ever read equals the final file, no
    half-written file was ever there to be read.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: dict[str, set[bytes]] = defaultdict(set)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> OutputWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.002):
            for path in self.folder.glob("[!.]*"):  # temp files are hidden until renamed
                with contextlib.suppress(FileNotFoundError):  # renamed away meanwhile
                    self.seen[path.name].add(path.read_bytes())

    def check(self) -> None:
        for name, versions in self.seen.items():
            assert versions == {(self.folder / name).read_bytes()}, f"{name} seen half-written"
        leftovers = [p.name for p in self.folder.iterdir() if p.name.startswith(".")]
        assert leftovers == [], f"temporary files left behind: {leftovers}"


class EventLog:
    """Every event a client received, and a wait that also finds those already received."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client
        self.events: list[p.Event] = []
        self._start = 0  # waits look at events from here on

    def wait(self, wanted: Callable[[p.Event], bool]) -> p.Event:
        for event in self.events[self._start :]:
            if wanted(event):
                return event
        return self.client.wait_for(wanted, EVENT_TIMEOUT, on_event=self.events.append)

    def only_new(self) -> None:
        """Later waits ignore the events received so far (e.g. those of a dead engine)."""
        self._start = len(self.events)

    def request(self, command: p.Command) -> p.Event:
        seq = self.client.send(command)
        return self.wait(lambda e: getattr(e, "reply_to", None) == seq)

    def submit(self, spec: JobSpec) -> int:
        queued = self.request(p.SubmitJob(spec=spec))
        assert isinstance(queued, p.JobQueued), queued
        return queued.job.id


def of_job(kind: type, job_id: int) -> Callable[[p.Event], bool]:
    return lambda e: isinstance(e, kind) and e.job_id == job_id


def finished(job_id: int) -> Callable[[p.Event], bool]:
    return lambda e: isinstance(e, p.JobDone | p.JobFailed | p.JobCancelled) and e.job_id == job_id


# -- the resumable loop, in process ------------------------------------------------------


def test_resuming_from_any_checkpoint_gives_the_uninterrupted_result(
    long_speech: Path, transcriber, reference: Reference
) -> None:
    from voxtune.engine.audio import decode_audio
    from voxtune.engine.transcribe.samples import sample_index

    audio = decode_audio(long_speech)
    checkpoints = [transcriber.begin(audio, OPTIONS)]
    produced: list[list[Segment]] = []
    for segments, checkpoint in transcriber.windows(audio, OPTIONS, checkpoints[0]):
        produced.append(segments)
        checkpoints.append(checkpoint)
    # The loop is the Transcriber's loop: same segments, same order.
    assert [s for window in produced for s in window] == list(reference.transcript.segments)
    assert len(checkpoints) >= 4 and checkpoints[-1].finished
    inside_a_region = [c for c in checkpoints[1:-1] if c.seek > c.regions[c.region][0]]
    assert inside_a_region, "no checkpoint falls inside a speech region"

    for index, checkpoint in enumerate(checkpoints[1:-1], start=1):
        start = sample_index(checkpoint.seek) / REFERENCE_RATE
        rest = decode_audio(long_speech, start=start)
        saved = type(checkpoint).from_json(checkpoint.to_json())
        resumed = [s for w, _ in transcriber.windows(rest, OPTIONS, saved, offset=start) for s in w]
        assert resumed == [s for window in produced[index:] for s in window], index


# -- through the engine process -----------------------------------------------------------


def test_a_job_survives_kill_9_of_its_engine_and_ends_identical(
    engine: EngineClient, long_speech: Path, reference: Reference, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    log = EventLog(engine)
    with OutputWatcher(out) as watcher:
        job_id = log.submit(JobSpec.for_file(long_speech, out, FORMATS, options=OPTIONS))
        log.wait(of_job(p.SegmentReady, job_id))
        os.kill(engine.pid, signal.SIGKILL)
        died = log.wait(lambda e: isinstance(e, p.EngineDied))
        assert died.reason == "the engine was killed (signal 9)" and died.job_ids == (job_id,)
        assert list(out.glob("[!.]*")) == []  # nothing is written before a job completes

        with JobStore(tmp_path / "jobs.sqlite3") as store:
            crashed = store.get(job_id)
            persisted = store.segments(job_id)
        assert crashed.state is JobState.RUNNING and 0 < crashed.progress < 1
        assert persisted and persisted == list(reference.transcript.segments[: len(persisted)])

        engine.restart()
        log.only_new()
        started = log.wait(of_job(p.JobStarted, job_id))
        assert started.resume_from >= persisted[-1].end > 0  # not from the top
        done = log.wait(finished(job_id))
        assert isinstance(done, p.JobDone), done
    watcher.check()
    assert {Path(o).name: Path(o).read_bytes() for o in done.outputs} == reference.files
    progress = [e.fraction for e in log.events if of_job(p.JobProgress, job_id)(e)]
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_cancel_stops_a_running_job_and_retry_finishes_it(
    engine: EngineClient, long_speech: Path, reference: Reference, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    log = EventLog(engine)
    job_id = log.submit(JobSpec.for_file(long_speech, out, FORMATS, options=OPTIONS))
    log.wait(of_job(p.SegmentReady, job_id))
    engine.send(p.CancelJob(job_id=job_id))
    assert isinstance(log.wait(finished(job_id)), p.JobCancelled)
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        cancelled = store.get(job_id)
    assert cancelled.state is JobState.CANCELLED and cancelled.progress < 1
    assert not out.exists() or list(out.iterdir()) == []

    log.only_new()
    retried = log.request(p.RetryJob(job_id=job_id))
    assert isinstance(retried, p.JobQueued) and retried.job.id == job_id
    started = log.wait(of_job(p.JobStarted, job_id))
    assert started.resume_from > 0  # the cancelled run's work is kept
    done = log.wait(finished(job_id))
    assert isinstance(done, p.JobDone), done
    assert {Path(o).name: Path(o).read_bytes() for o in done.outputs} == reference.files


def test_short_files_are_batched_and_a_corrupt_one_fails_alone(
    ivr_set: list, tmp_path: Path
) -> None:
    prompts = short_prompts(ivr_set, 1.0, 4.0)[:4]
    corrupt = truncate(prompts[0], 200, tmp_path)  # a download cut off in its headers
    out = tmp_path / "out"
    db = tmp_path / "jobs.sqlite3"
    with JobStore(db) as store:  # queued before the engine starts, as an earlier run left them
        ids = [
            store.submit(JobSpec.for_file(f, out, ("txt",), options=OPTIONS)).id for f in prompts
        ]
        bad = store.submit(JobSpec.for_file(corrupt, out, ("txt",), options=OPTIONS)).id
    with EngineClient(EngineConfig(db_path=str(db), batch_size=8, threads=THREADS)) as engine:
        log = EventLog(engine)
        failed = log.wait(finished(bad))
        assert failed == p.JobFailed(
            job_id=bad, message=f"{corrupt}: corrupt or truncated audio", retryable=False,
            seq=failed.seq,
        )  # fmt: skip
        for job_id in ids:
            assert isinstance(log.wait(finished(job_id)), p.JobDone)
    order = [(type(e), e.job_id) for e in log.events if isinstance(e, p.JobStarted | p.JobDone)]
    first_done = next(i for i, (kind, _) in enumerate(order) if kind is p.JobDone)
    # One bucket: all four were started (claimed) together, before any of them was done.
    assert {job_id for _, job_id in order[:first_done]} == set(ids)
    assert sorted(f.name for f in out.iterdir()) == sorted(f"{f.stem}.txt" for f in prompts)
    assert all((out / f"{f.stem}.txt").read_text().strip() for f in prompts)


def test_rerun_same_options_redoes_the_job_other_options_make_a_new_one(
    engine: EngineClient, ivr_set: list, tmp_path: Path
) -> None:
    prompt = short_prompts(ivr_set, 1.0, 3.0)[0]
    spec = JobSpec.for_file(prompt, tmp_path / "out", ("json",), options=OPTIONS)
    log = EventLog(engine)
    job_id = log.submit(spec)
    assert isinstance(log.wait(finished(job_id)), p.JobDone)
    again = log.request(p.SubmitJob(spec=spec))
    assert again.job.id == job_id and again.job.state is JobState.DONE  # done: skipped

    log.only_new()
    rerun = log.request(p.RerunJob(job_id=job_id))
    assert rerun.job.id == job_id and rerun.job.state is JobState.QUEUED
    assert isinstance(log.wait(finished(job_id)), p.JobDone)

    other = log.request(p.RerunJob(job_id=job_id, options=replace(OPTIONS, beam_size=2)))
    assert other.job.id != job_id and other.job.spec.options.beam_size == 2
    assert isinstance(log.wait(finished(other.job.id)), p.JobDone)
