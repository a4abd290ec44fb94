"""``voxtune batch`` and ``voxtune jobs``: the real command, engine process and job queue.

Each test has a Voxtune home of its own (its own queue), sharing the session's imported
model. Interruptions are real signals to real processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import srt
from media_factory import truncate
from test_engine_jobs import OutputWatcher, short_prompts, write_long_speech

from voxtune.app import paths
from voxtune.app.cli import main
from voxtune.engine.jobs import Job, JobSpec, JobState, JobStore

REPO = Path(__file__).resolve().parents[1]
# Runs the real CLI, then reports which heavy modules its process imported.
CLI = (
    "import json, sys\n"
    "from voxtune.app.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "heavy = {'torch', 'transformers', 'numpy', 'av'} & {m.split('.')[0] for m in sys.modules}\n"
    "print(json.dumps({'exit': code, 'heavy': sorted(heavy)}))\n"
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    own = tmp_path / "home"
    own.mkdir()
    (own / "models").symlink_to(paths.models_dir(), target_is_directory=True)
    return own


def start_cli(home: Path, *args: str) -> subprocess.Popen:
    """``voxtune ARGS`` in a session of its own, so a 'Ctrl-C' reaches it and its engine."""
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        env={**os.environ, "VOXTUNE_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[dict, list[str]]:
    out, err = process.communicate(timeout=timeout)
    return (json.loads(out.splitlines()[-1]) if out.strip() else {}), err.splitlines()


def poll(condition: Callable[[], object], timeout: float = 240, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def job_for(home: Path, name: str) -> Job | None:
    db = home / "jobs.sqlite3"
    if not db.exists():
        return None
    with JobStore(db) as store:
        return next((j for j in store.jobs() if Path(j.spec.input_path).name == name), None)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def check_outputs(folder: Path, stems: list[str]) -> None:
    """Every expected SRT parses with at least one subtitle; every JSON loads."""
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f"{s}.{ext}" for s in stems for ext in ("json", "srt"))
    for stem in stems:
        assert list(srt.parse((folder / f"{stem}.srt").read_text()))
        assert json.loads((folder / f"{stem}.json").read_text())


def test_a_corrupt_file_in_ten_fails_alone_and_a_rerun_skips_the_nine(
    home: Path, ivr_set: list, tmp_path: Path
) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    prompts = short_prompts(ivr_set, 1.0, 3.5)[:9]
    for prompt in prompts:
        shutil.copy(prompt, inputs)
    corrupt = truncate(prompts[0], 200, inputs)
    command = ("batch", str(inputs), "-o", str(out), "-f", "srt,json", "--beam-size", "1")

    result, stderr = finish(start_cli(home, *command))
    assert result == {"exit": 1, "heavy": []}  # the CLI side never imported torch or numpy
    assert stderr.count(f"voxtune: error: {corrupt.resolve()}: corrupt or truncated audio") == 1
    assert stderr[-1] == "voxtune: 9 of 10 done, 1 failed"
    check_outputs(out, [p.stem for p in prompts])
    written = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    result, stderr = finish(start_cli(home, *command))
    assert result["exit"] == 1
    assert stderr[-1] == "voxtune: 9 of 10 done, 9 of them by an earlier run, 1 failed"
    # Said per file: an old result never passes silently for a new one.
    kept = ": unchanged since an earlier run, its outputs are kept"
    assert sorted(line for line in stderr if line.endswith(kept)) == sorted(
        f"voxtune: {(inputs / p.name).resolve()}{kept}" for p in prompts
    )
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == written  # not redone


def test_ctrl_c_and_kill_9_then_the_same_command_finishes_the_rest(
    home: Path, ivr_set: list, tmp_path: Path
) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    write_long_speech(ivr_set, inputs / "long.flac")
    prompts = short_prompts(ivr_set, 1.0, 3.0)[:2]
    for prompt in prompts:
        shutil.copy(prompt, inputs)
    command = ("batch", str(inputs), "-o", str(out), "-f", "srt,json", "--beam-size", "1")

    def long_job(state: JobState) -> Callable[[], bool]:
        return lambda: (job := job_for(home, "long.flac")) is not None and job.state is state

    with OutputWatcher(out) as watcher:
        # Ctrl-C: the terminal signals the whole process group, CLI and engine.
        cli = start_cli(home, *command)
        poll(long_job(JobState.RUNNING), what="the long job to start")
        os.killpg(cli.pid, signal.SIGINT)
        result, stderr = finish(cli)
        assert result == {"exit": 130, "heavy": []}
        assert "voxtune: stopping; the same command resumes the rest" in stderr
        assert stderr[-1] == "voxtune: interrupted"
        assert long_job(JobState.QUEUED)()  # released by the engine for the next run
        assert not list(out.glob("long.*"))

        # kill -9 of the CLI while its engine works on the long file.
        cli = start_cli(home, *command)
        poll(long_job(JobState.RUNNING), what="the long job to start again")
        engine_pid = job_for(home, "long.flac").worker
        cli.kill()
        cli.wait(30)
        poll(lambda: not pid_alive(engine_pid), timeout=30, what="the orphaned engine to exit")
        assert not list(out.glob("long.*"))

        result, stderr = finish(start_cli(home, *command))
    assert result == {"exit": 0, "heavy": []}
    assert stderr[-1] == "voxtune: 3 of 3 done, 2 of them by an earlier run"
    watcher.check()
    check_outputs(out, ["long", *(p.stem for p in prompts)])
    assert job_for(home, "long.flac").state is JobState.DONE


# -- voxtune jobs, and bad input --------------------------------------------------------


@pytest.fixture
def own_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOXTUNE_HOME", str(home))
    return home


def test_jobs_list_cancel_retry_clear(
    own_home: Path, ivr_set: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    prompt = short_prompts(ivr_set, 1.0, 3.0)[0].resolve()  # as a job keeps its file's path
    out = tmp_path / "out"
    with JobStore(own_home / "jobs.sqlite3") as store:
        waiting = store.submit(JobSpec.for_file(prompt, out, ("txt",)))
        broken = store.submit(JobSpec.for_file(tmp_path / "gone.ogg", out, ("txt",)))
        store.fail(broken.id, f"{tmp_path / 'gone.ogg'}: no such file", retryable=False)

    assert main(["jobs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "   ID  STATE      DONE  FILE",
        f"{waiting.id:>5}  queued       0%  {prompt}",
        f"{broken.id:>5}  failed       0%  {tmp_path / 'gone.ogg'}",
        f"       {tmp_path / 'gone.ogg'}: no such file",
    ]

    assert main(["jobs", "cancel", str(waiting.id)]) == 0
    assert capsys.readouterr().out == f"voxtune: job {waiting.id} cancelled ({prompt})\n"
    assert main(["jobs", "cancel", str(waiting.id)]) == 1
    assert capsys.readouterr().err == (
        f"voxtune: error: job {waiting.id} is cancelled: nothing to cancel\n"
    )

    assert main(["jobs", "retry", str(waiting.id)]) == 0  # runs it now, in an engine
    assert (out / f"{prompt.stem}.txt").read_text().strip()
    assert "voxtune: 1 of 1 done" in capsys.readouterr().err

    assert main(["jobs", "clear"]) == 0
    assert capsys.readouterr().out == "voxtune: forgot 2 finished jobs\n"
    assert main(["jobs", "list"]) == 0
    assert capsys.readouterr().out == "no jobs\n"


def test_jobs_list_shows_a_part_done_queued_job_as_stopped(
    own_home: Path, ivr_set: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Issue 19 item 9: a job an engine released part-way (or after its last segment, before
    its outputs were written) was listed as "queued 100%"."""
    prompts = [p.resolve() for p in short_prompts(ivr_set, 1.0, 3.0)[:3]]
    out = tmp_path / "out"
    with JobStore(own_home / "jobs.sqlite3") as store:
        jobs = [store.submit(JobSpec.for_file(p, out, ("txt",))) for p in prompts]
        for job, progress in zip(jobs[:2], (0.4, 1.0), strict=True):
            assert store.claim(job.id, worker=os.getpid()) is not None
            assert store.save_progress(job.id, [], progress)
            assert store.release(job.id)
        assert [store.get(j.id).state for j in jobs] == [JobState.QUEUED] * 3

    assert main(["jobs", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "   ID  STATE      DONE  FILE",
        f"{jobs[0].id:>5}  stopped     40%  {prompts[0]}",
        f"{jobs[1].id:>5}  stopped     99%  {prompts[1]}",
        f"{jobs[2].id:>5}  queued       0%  {prompts[2]}",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jobs", "retry"], "jobs retry: which job? give its ID (see `voxtune jobs`)"),
        (["jobs", "clear", "3"], "jobs clear: takes no ID"),
        (["jobs", "retry", "99"], "{home}/jobs.sqlite3: no job 99"),
        (["batch", "{tmp}/nowhere.ogg"], "{tmp}/nowhere.ogg: no such file or folder"),
        (["batch", "{tmp}/empty"], "{tmp}/empty: no audio or video files found"),
        (["batch", "{tmp}/a.ogg", "-f", "srt,docx"],
         "unknown format docx (choose from srt, vtt, txt, json)"),
        (["batch", "{tmp}/a.ogg", "--batch-size", "0"], "--batch-size must be at least 1, not 0"),
        (["batch", "{tmp}/a.ogg", "--max-line-chars", "0"],
         "subtitle rules: max_line_chars must be at least 1, not 0"),
        (["batch", "{tmp}/a.ogg", "--min-duration", "3", "--max-duration", "2"],
         "subtitle rules: need 0 <= min_duration <= max_duration, not 3.0 and 2.0"),
        (
            ["batch", "{tmp}/a.ogg", "{tmp}/sub/a.ogg"],
            "{tmp}/sub/a.ogg: same name as {tmp}/a.ogg; their outputs would overwrite each other "
            "(transcribe them into different --output-dir folders)",
        ),
    ],
)  # fmt: skip
def test_bad_input_gets_one_clear_line(
    own_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "sub").mkdir()
    for name in ("a.ogg", "sub/a.ogg"):
        (tmp_path / name).write_bytes(b"OggS")
    filled = [a.format(tmp=tmp_path) for a in args]
    assert main(filled) == 1
    err = capsys.readouterr().err
    assert err == "voxtune: error: " + message.format(tmp=tmp_path, home=own_home) + "\n"


def test_batch_flags_put_subtitle_rules_and_the_aligner_into_each_job(tmp_path: Path) -> None:
    from voxtune.app.cli import build_parser
    from voxtune.app.cli.batch import job_specs
    from voxtune.engine.subtitles import DEFAULT_RULES, SubtitleRules

    (tmp_path / "a.ogg").write_bytes(b"OggS")
    parser = build_parser()
    chosen = parser.parse_args(
        ["batch", str(tmp_path / "a.ogg"), "--max-line-chars", "20", "--max-lines", "1",
         "--min-duration", "0.5", "--max-duration", "4", "--aligner", "my-aligner"]
    )  # fmt: skip
    (spec,) = job_specs(chosen)
    assert spec.rules == SubtitleRules(
        max_line_chars=20, max_lines=1, min_duration=0.5, max_duration=4.0
    )
    assert spec.aligner == "my-aligner"
    (plain,) = job_specs(parser.parse_args(["batch", str(tmp_path / "a.ogg")]))
    assert (plain.rules, plain.aligner) == (DEFAULT_RULES, None)
