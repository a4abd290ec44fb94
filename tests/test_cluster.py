"""``voxtune batch --cluster``: a real Ray head and two worker nodes on this machine (CPU).

The cluster is Ray's own multi-node harness (``ray.cluster_utils.Cluster``): a head with no
CPUs (it runs nothing) and two worker nodes of one CPU each, every one a real raylet with
its own processes. The command runs as a real process; the files are the shared FLEURS
English dev utterances. Slow to start (about 30 s on two shared cores), so one cluster
serves the module.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from voxtune.app import paths
from voxtune.engine.jobs import JobState, JobStore

ray = pytest.importorskip("ray", reason="ray is in the test extra: pip install -e .[test]")
from ray.cluster_utils import Cluster  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FILES = ("fleurs-en-000.ogg", "fleurs-en-001.ogg", "fleurs-en-002.ogg")
FORMATS = "srt,vtt,json"


@dataclass(frozen=True)
class LocalCluster:
    gcs: str  # HOST:PORT of the head, as a driver joins
    client: str  # ray://HOST:PORT (Ray Client), as a laptop outside the cluster joins


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(voxtune_home: Path) -> Iterator[LocalCluster]:
    # The workers inherit this process's environment: the session's Voxtune home, where
    # the embedded tiny.en is imported once.
    client_port = _free_port()
    head = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "include_dashboard": False,
            "ray_client_server_port": client_port,
        },
    )
    try:
        for _ in range(2):
            head.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
        yield LocalCluster(gcs=head.address, client=f"ray://127.0.0.1:{client_port}")
    finally:
        if ray.is_initialized():
            ray.shutdown()
        head.shutdown()


@pytest.fixture
def inputs(data_dir: Path) -> list[Path]:
    return [data_dir / "fleurs" / name for name in FILES]


def home_for(tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    home.mkdir()
    (home / "models").symlink_to(paths.models_dir(), target_is_directory=True)
    return home


def start_batch(home: Path, out: Path, inputs: list[Path], *options: str) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "voxtune.app", "batch", *map(str, inputs), "-o", str(out),
        "-f", FORMATS, "--threads", "1", *options,
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        env={**os.environ, "VOXTUNE_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def run_batch(home: Path, out: Path, inputs: list[Path], *options: str) -> str:
    process = start_batch(home, out, inputs, *options)
    _, err = process.communicate(timeout=400)
    assert process.returncode == 0, err
    return err


def outputs(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


def test_cluster_outputs_are_byte_identical_to_a_local_run(
    cluster: LocalCluster, inputs: list[Path], tmp_path: Path
) -> None:
    """Through Ray Client (ray://), short files in length buckets of two, as locally."""
    local, remote = tmp_path / "local", tmp_path / "cluster"
    run_batch(home_for(tmp_path, "local-home"), local, inputs, "--batch-size", "2")
    err = run_batch(
        home_for(tmp_path, "cluster-home"), remote, inputs, "--batch-size", "2",
        "--cluster", cluster.client,
    )  # fmt: skip
    assert "3 of 3 done" in err
    expected = outputs(local)
    assert len(expected) == len(FILES) * 3
    assert outputs(remote) == expected
    assert b"-->" in expected["fleurs-en-000.srt"]  # real cues, not empty files


def test_a_cluster_nobody_answers_is_one_line(
    inputs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from voxtune.app.cli import main

    port = _free_port()  # closed again: nothing listens there
    for address in (f"ray://127.0.0.1:{port}", "ray://no-port", "http://127.0.0.1:1"):
        code = main(["batch", str(inputs[0]), "-o", str(tmp_path), "--cluster", address])
        err = capsys.readouterr().err.strip()
        assert code == 1
        assert err.startswith(f"voxtune: error: --cluster {address}: ")
        assert len(err.splitlines()) == 1
    assert "no Ray cluster answers there" in (
        main(["batch", str(inputs[0]), "--cluster", f"127.0.0.1:{port}"])
        and capsys.readouterr().err
    )


def busy_worker(deadline: float) -> tuple[int, int]:
    """(pid, job id) of a Voxtune worker in the middle of a job, asked of the actors."""
    while time.monotonic() < deadline:
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if not entry["name"].startswith("voxtune-"):
                continue
            actor = ray.get_actor(entry["name"], namespace=entry["namespace"])
            try:
                _, pid, jobs = ray.get(actor.where.remote(), timeout=10)
            except ray.exceptions.RayError:
                continue
            if jobs:
                return pid, jobs[0]
        time.sleep(0.1)
    raise AssertionError("no worker took a job")


def test_a_worker_killed_mid_job_its_job_finishes_elsewhere(
    cluster: LocalCluster, inputs: list[Path], tmp_path: Path
) -> None:
    """SIGKILL to the worker process transcribing a file: the job is requeued, resumes on a
    worker, and the outputs are those of an undisturbed local run: nothing lost, nothing
    twice (a window persisted twice would show in every format)."""
    local, remote = tmp_path / "local", tmp_path / "cluster"
    run_batch(home_for(tmp_path, "local-home"), local, inputs, "--batch-size", "1")
    home = home_for(tmp_path, "cluster-home")
    process = start_batch(home, remote, inputs, "--batch-size", "1", "--cluster", cluster.gcs)
    try:
        ray.init(address=cluster.gcs, logging_level="ERROR", log_to_driver=False)
        pid, job_id = busy_worker(time.monotonic() + 300)
        os.kill(pid, signal.SIGKILL)
        _, err = process.communicate(timeout=400)
    finally:
        if process.poll() is None:
            process.kill()
        ray.shutdown()
    assert process.returncode == 0, err
    assert "3 of 3 done" in err
    assert outputs(remote) == outputs(local)
    with JobStore(home / "jobs.sqlite3") as store:
        jobs = {job.id: job for job in store.jobs()}
    assert {job.state for job in jobs.values()} == {JobState.DONE}
    # Claimed, lost with its worker (the attempt counts, as an engine crash does), claimed
    # again. (More than twice on a machine so loaded that Ray found a worker unanswering.)
    assert jobs[job_id].attempts >= 2
    log = (home / "logs" / "engine.log").read_text(encoding="utf-8")
    assert f"job {job_id} resumes on another worker" in log
