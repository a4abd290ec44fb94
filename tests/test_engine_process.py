"""The real engine process and its client: start, answer, die, be noticed, restart.

No model is loaded here (nothing is transcribed): these are the process mechanics.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxtune.engine import protocol as p
from voxtune.engine.client import EngineClient, EngineGone
from voxtune.engine.process import EngineConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[EngineClient]:
    engine = EngineClient(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3")))
    engine.start()
    yield engine
    engine.stop()


def pid_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_the_engine_starts_and_answers(client: EngineClient) -> None:
    ready = client.next_event(timeout=60)
    assert isinstance(ready, p.EngineReady) and ready.pid == client.pid != os.getpid()
    seq = client.send(p.Ping())
    pong = client.wait_for(lambda e: isinstance(e, p.Pong), timeout=60)
    assert pong == p.Pong(reply_to=seq, seq=pong.seq)
    assert pong.seq > ready.seq  # numbered in the order they were sent


def test_a_killed_engine_is_reported_and_restarted(client: EngineClient) -> None:
    assert isinstance(client.request(p.Ping()), p.Pong)
    old_pid = client.pid
    os.kill(old_pid, signal.SIGKILL)
    died = client.next_event(timeout=10)
    assert died == p.EngineDied(reason="the engine was killed (signal 9)", exitcode=-9)
    assert client.next_event(timeout=0.5) is None  # reported once
    with pytest.raises(EngineGone, match="the engine is not running"):
        client.send(p.Ping())
    client.restart()
    assert client.pid != old_pid
    assert isinstance(client.request(p.Ping()), p.Pong)


def test_an_engine_that_stops_answering_is_declared_dead(tmp_path: Path) -> None:
    client = EngineClient(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3")),
                          heartbeat_timeout_s=2.0)  # fmt: skip
    client.start()
    try:
        assert isinstance(client.request(p.Ping()), p.Pong)
        pid = client.pid
        os.kill(pid, signal.SIGSTOP)  # alive, but silent: a hang
        died = client.next_event(timeout=30)
        assert isinstance(died, p.EngineDied) and died.exitcode is None
        assert died.reason.startswith("the engine stopped answering (no heartbeat for ")
        assert pid_gone(pid, within=10)  # the client killed it
    finally:
        client.stop()


def test_shutdown_ends_the_engine_cleanly(client: EngineClient) -> None:
    assert isinstance(client.request(p.Ping()), p.Pong)
    pid = client.pid
    assert client.stop() == 0
    assert pid_gone(pid, within=5)


def test_a_command_that_cannot_be_carried_out_gets_a_one_line_error(
    client: EngineClient, tmp_path: Path
) -> None:
    answer = client.request(p.CancelJob(job_id=42))
    assert isinstance(answer, p.EngineError)
    assert answer.message == f"{tmp_path / 'jobs.sqlite3'}: no job 42"


def test_a_command_from_another_protocol_version_is_refused(client: EngineClient) -> None:
    answer = client.request(p.Ping(version=p.PROTOCOL_VERSION + 1))
    assert isinstance(answer, p.EngineError)
    assert answer.message == (
        f"ping: protocol version {p.PROTOCOL_VERSION + 1}, the engine speaks {p.PROTOCOL_VERSION}"
    )
    assert isinstance(client.request(dataclasses.replace(p.Ping())), p.Pong)  # still serving


def test_an_unusable_job_database_is_reported_then_the_engine_exits(tmp_path: Path) -> None:
    bogus = tmp_path / "jobs.sqlite3"
    bogus.write_bytes(b"not a database at all, " * 100)
    client = EngineClient(EngineConfig(db_path=str(bogus)))
    client.start()
    try:
        error = client.wait_for(lambda e: isinstance(e, p.EngineError), timeout=60)
        assert error.message == f"{bogus}: not a usable job database (file is not a database)"
        died = client.next_event(timeout=10)
        assert died == p.EngineDied(reason="the engine exited (code 2)", exitcode=2)
    finally:
        client.stop()


def test_the_engine_does_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    """kill -9 of the program using the client: its engine notices and exits by itself."""
    script = textwrap.dedent(f"""
        import time
        from voxtune.engine import protocol as p
        from voxtune.engine.client import EngineClient
        from voxtune.engine.process import EngineConfig

        if __name__ == "__main__":
            client = EngineClient(EngineConfig(db_path={str(tmp_path / "jobs.sqlite3")!r}))
            client.start()
            client.request(p.Ping())
            print(client.pid, flush=True)
            time.sleep(600)
    """)
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        engine_pid = int(parent.stdout.readline())
        os.kill(engine_pid, 0)  # running
        parent.kill()
        parent.wait(10)
        assert pid_gone(engine_pid, within=15)
    finally:
        parent.kill()
        parent.wait(10)
