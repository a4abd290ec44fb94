"""Torch's thread count is set once per process (engine or CLI start), never by a session.

``torch.set_num_threads`` is wrapped (the real one still runs) to record which thread called
it; a live session decodes real speech on its own thread, as in the engine, meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch

from voxtune.engine.torch_threads import set_torch_threads


@pytest.fixture
def thread_sets(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(calling thread's name, count) of every ``torch.set_num_threads`` while the test runs."""
    calls: list[tuple[str, int]] = []
    real = torch.set_num_threads

    def recording(count: int) -> Any:
        calls.append((threading.current_thread().name, count))
        return real(count)

    monkeypatch.setattr(torch, "set_num_threads", recording)
    return calls


def test_a_live_session_on_its_own_thread_never_sets_torch_threads(
    ivr_set: list, thread_sets: list[tuple[str, int]]
) -> None:
    from voxtune.engine.audio.sources import FileSource
    from voxtune.engine.models import load_model
    from voxtune.engine.stream import StreamingTranscriber

    set_torch_threads(2)  # as the engine process does when it starts
    thread_sets.clear()
    loaded = load_model()
    seen: dict[str, Any] = {}

    def session() -> None:
        transcriber = StreamingTranscriber(loaded)
        with FileSource(ivr_set[0].path, speed=None, block_seconds=0.25) as source:
            for _ in transcriber.run(source):
                seen.setdefault("threads", set()).add(torch.get_num_threads())
        seen["committed"] = transcriber.committed

    live = threading.Thread(target=session, name="live-session")
    live.start()
    live.join(300)
    assert not live.is_alive()
    assert seen["committed"]  # it heard and decoded the prompt
    assert thread_sets == []  # neither per step nor when the VAD loaded
    assert seen["threads"] == {2} and torch.get_num_threads() == 2


def test_the_cli_sets_torch_threads_once_at_start(
    ivr_set: list, thread_sets: list[tuple[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    from voxtune.app.cli import main

    chosen = set_torch_threads()  # the process's count; then something else changed it
    torch.set_num_threads(1 if chosen != 1 else 2)
    thread_sets.clear()
    assert main(["live", "--file", str(ivr_set[0].path), "--speed", "0", "--json"]) == 0
    assert capsys.readouterr().out  # it transcribed
    assert thread_sets == [("MainThread", chosen)]  # at start, before the model: once
    assert torch.get_num_threads() == chosen


def test_set_torch_threads_is_what_threads_started_later_run_with() -> None:
    before = torch.get_num_threads()
    try:
        assert set_torch_threads(1) == 1
        seen: list[int] = []
        worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        worker.start()
        worker.join()
        assert seen == [1]
        import silero_vad  # noqa: F401  (imported by set_torch_threads: its own set is spent)

        assert torch.get_num_threads() == 1
    finally:
        set_torch_threads(before)
