"""The engine process answers every UI action through the protocol, and stays responsive.

Real engine processes (spawn), real models and audio: an internal error's traceback reaches
the app's log view and file; a live model that loads for the first time does not hold up
Ping, StopLive or Shutdown; an import updates the Models tab when it finishes; a tiny tune
runs through the engine with step, loss and WER events.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from tune_factory import build_trainable_qwen3

from voxtune.engine import protocol as p
from voxtune.engine.client import EngineClient
from voxtune.engine.config import EngineConfig
from voxtune.engine.tune.config import TuneConfig
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.main_window import MainWindow
from voxtune.ui.settings import open_qsettings


def engine_config(tmp_path: Path) -> EngineConfig:
    return EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), run_queue=False)


def test_an_internal_error_reaches_the_log_view_and_file(qtbot: QtBot, tmp_path: Path) -> None:
    bridge = EngineBridge(engine_config(tmp_path))
    window = MainWindow(bridge, open_qsettings(tmp_path / "s.ini"), log_folder=tmp_path / "logs")
    qtbot.addWidget(window)
    with qtbot.waitSignal(bridge.engine_ready, timeout=60_000):
        bridge.start()
    try:
        # A NUL byte in a file name is no user mistake the writer checks for: open() raises
        # ValueError deep inside, an internal error with a traceback.
        with qtbot.waitSignal(bridge.engine_error, timeout=30_000) as error:
            bridge.save_live(str(tmp_path), "dictation\x00", ("txt",))
        assert error.args[0].startswith("save_live: internal error (ValueError")
        dialog = window.show_log()
        shown = dialog.view.toPlainText()
        assert "Traceback (most recent call last)" in shown and "ValueError" in shown
        logged = (tmp_path / "logs" / "voxtune.log").read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" in logged and "save_live failed" in logged
    finally:
        window.close()


def test_commands_are_answered_while_a_live_model_loads(
    tmp_path: Path, english_dev: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh home: whisper-base is imported from its CTranslate2 files on first use, a real
    # load of many seconds, on the engine's live worker.
    monkeypatch.setenv("VOXTUNE_HOME", str(tmp_path / "home"))
    client = EngineClient(engine_config(tmp_path), heartbeat_timeout_s=60)
    client.start()
    try:
        client.wait_for(lambda e: isinstance(e, p.EngineReady), 60)
        client.send(p.StartLive(model="whisper-base", file=str(english_dev[0].path)))
        time.sleep(0.5)  # let the worker get into the import before we ask
        seen: list[p.Event] = []
        asked = time.monotonic()
        pong = client.request(p.Ping(), timeout=5)
        assert isinstance(pong, p.Pong) and time.monotonic() - asked < 3
        asked = time.monotonic()
        client.send(p.StopLive())
        stopped = client.wait_for(
            lambda e: isinstance(e, p.LiveStopped | p.EngineError), 5, on_event=seen.append
        )
        assert isinstance(stopped, p.LiveStopped) and stopped.error is None
        assert time.monotonic() - asked < 3
        assert not [e for e in seen if isinstance(e, p.LiveStarted)]  # it was still loading
        asked = time.monotonic()
        client.send(p.Shutdown())
        client._process.join(15)
        assert client._process.exitcode == 0
        assert time.monotonic() - asked < 15
    finally:
        client.stop()


def test_an_import_updates_the_models_tab_when_it_finishes(qtbot: QtBot, tmp_path: Path) -> None:
    from voxtune.engine.models.builtin import BUILTIN_MODELS

    bridge = EngineBridge(engine_config(tmp_path))
    window = MainWindow(bridge, open_qsettings(tmp_path / "s.ini"), log_folder=tmp_path / "logs")
    qtbot.addWidget(window)
    tab = window.models_tab
    with qtbot.waitSignal(bridge.models_listed, timeout=60_000):
        bridge.start()
    try:
        names = lambda: [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]  # noqa: E731
        assert "whisper-tiny.en" in names() and "my-tiny" not in names()
        with qtbot.waitSignal(bridge.models_changed, timeout=240_000):
            tab.import_folder(str(BUILTIN_MODELS["whisper-tiny.en"]().files))
        assert tab.busy.isHidden()
        assert tab.message.text().endswith(": imported.")
        imported = tab.message.text().removesuffix(": imported.")
        assert imported in names()
        entry = next(m for m in tab.models if m.name == imported)
        assert entry.removable and entry.size_bytes > 10_000_000
        with qtbot.waitSignal(bridge.models_changed, timeout=60_000):
            tab.remove(imported)
        assert imported not in names() and not Path(entry.location).exists()
    finally:
        window.close()


def test_a_tiny_tune_runs_through_the_engine(tmp_path: Path, ivr_set: list) -> None:
    base = build_trainable_qwen3(tmp_path / "tiny-qwen3")
    manifest = tmp_path / "clips.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"audio": str(u.path), "text": u.reference, "language": u.language}) + "\n"
            for u in ivr_set[:3]
        )
    )
    config = TuneConfig(
        data=manifest, validation=manifest, out=tmp_path / "out", base=str(base), batch_size=3,
        max_steps=3, learning_rate=1e-2, warmup_fraction=0.0, lora_rank=4, lora_alpha=8,
        lora_dropout=0.0,
    )  # fmt: skip
    with EngineClient(engine_config(tmp_path), heartbeat_timeout_s=120) as client:
        client.wait_for(lambda e: isinstance(e, p.EngineReady), 60)
        seq = client.send(p.StartTune(config=config))
        seen: list[p.Event] = []
        result = client.wait_for(
            lambda e: isinstance(e, p.TuneResult | p.EngineError), 600, on_event=seen.append
        )
    assert isinstance(result, p.TuneResult) and result.reply_to == seq, result
    assert result.error is None and not result.stopped
    steps = [
        e.update for e in seen if isinstance(e, p.TuneProgress) and e.update.kind == "tune_step"
    ]
    assert [s.step for s in steps] == [1, 2, 3]
    assert all(s.loss > 0 and s.eta_seconds >= 0 for s in steps)
    evals = [
        e.update for e in seen if isinstance(e, p.TuneProgress) and e.update.kind == "tune_eval"
    ]
    assert evals and all(e.wer >= 0 for e in evals)
    assert result.summary is not None and result.summary.steps == 3
    assert (Path(result.summary.adapter) / "adapter_config.json").is_file()
