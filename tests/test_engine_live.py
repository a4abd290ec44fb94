"""Live transcription through the real engine process: a file played as the microphone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from voxtune.engine import protocol as p
from voxtune.engine.client import EngineClient
from voxtune.engine.evaluation import word_error_rate
from voxtune.engine.process import EngineConfig


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineClient]:
    client = EngineClient(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), run_queue=False))
    client.start()
    yield client
    client.stop()


def test_live_session_streams_committed_words_and_stops(engine: EngineClient, english_dev) -> None:
    utterance = english_dev[0]
    engine.send(p.StartLive(file=str(utterance.path), speed=None))
    events: list[p.Event] = []
    stopped = engine.wait_for(
        lambda e: isinstance(e, p.LiveStopped | p.EngineError), timeout=300, on_event=events.append
    )
    assert isinstance(stopped, p.LiveStopped), stopped
    assert stopped.error is None
    started = [e for e in events if isinstance(e, p.LiveStarted)]
    assert started and started[0].device == str(utterance.path)
    updates = [e for e in events if isinstance(e, p.LiveUpdate)]
    assert updates, "no LiveUpdate before LiveStopped"
    committed = [w for u in updates for w in u.committed]
    assert not updates[-1].partial  # the stop flushed everything into committed words
    assert [w.start for w in committed] == sorted(w.start for w in committed)
    assert all(0.0 <= w.confidence <= 1.0 for w in committed)
    text = "".join(w.text for w in committed)
    assert word_error_rate([utterance.reference], [text]) < 0.35, text


def test_stop_without_a_session_is_a_clear_error(engine: EngineClient) -> None:
    engine.send(p.StopLive())
    error = engine.wait_for(lambda e: isinstance(e, p.EngineError), timeout=60)
    assert error.message == "stop_live: no live session is running"


def test_a_bad_file_is_reported_not_crashed(engine: EngineClient, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio\n" * 20)
    engine.send(p.StartLive(file=str(notes)))
    error = engine.wait_for(lambda e: isinstance(e, p.EngineError), timeout=120)
    assert error.message == f"{notes}: not an audio or video file"
    assert isinstance(engine.request(p.Ping()), p.Pong)  # the engine lives on


def test_live_in_the_app_takes_the_aligner_as_the_cli_does(
    engine: EngineClient, english_dev, tiny_aligner: Path
) -> None:
    # The one model builder applies one aligner rule: Whisper times its own words.
    engine.send(p.StartLive(file=str(english_dev[0].path), aligner=str(tiny_aligner)))
    error = engine.wait_for(lambda e: isinstance(e, p.EngineError), timeout=300)
    assert error.message == (
        f"{tiny_aligner}: a forced aligner times Qwen3-ASR words; "
        "whisper-tiny.en is a whisper model"
    )
