"""The Tune tab walked with pytest-qt through a real engine process: espeak-ng jargon, a
real short tune of a tiny Whisper, the result page's numbers against tune-summary.json, and
Resume after the engine is killed mid-run finishing with the uninterrupted run's weights.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from pytestqt.qtbot import QtBot
from safetensors.torch import load_file
from tune_factory import jargon_sentences, speak, write_folder_dataset

from voxtune.engine.config import EngineConfig
from voxtune.engine.tune.events import CheckpointSaved, EvalDone
from voxtune.engine.tune.report import word_alignment
from voxtune.ui import tune_pending
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.settings import UiSettings
from voxtune.ui.tune_result_page import wer_text
from voxtune.ui.tune_tab import DATA, PLAN, RESULT, TRAIN, TuneTab

# A short tune: three optimizer steps of four rows, rank 4, a checkpoint after every step.
SHORT = dict(batch_size=4, max_steps=3, lora_rank=4, lora_alpha=8, checkpoint_every=1, seed=5)
ADAPTER = "adapter/adapter_model.safetensors"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wizard-data")
    spoken = speak(jargon_sentences(12, seed=11), root / "wav", seed=11)
    folder = write_folder_dataset(spoken, root / "set")
    (folder / spoken[0].audio.name).with_suffix(".txt").unlink()  # a missing transcript
    (folder / "broken.wav").write_bytes(b"RIFF not really a wave file")
    (folder / "broken.txt").write_text("this clip is damaged\n", encoding="utf-8")
    return folder


class Wizard:
    """A TuneTab on a real engine, with settings the tab can change."""

    def __init__(self, qtbot: QtBot, tmp_path: Path, bridge: EngineBridge) -> None:
        self.settings = UiSettings(output_dir=str(tmp_path / "out"))
        self.record = tmp_path / "pending.json"
        self.bridge = bridge
        self.tab = self.open(qtbot)

    def open(self, qtbot: QtBot) -> TuneTab:
        tab = TuneTab(self.bridge, lambda: self.settings, self._change, pending_record=self.record)
        tab.overrides = dict(SHORT)
        qtbot.addWidget(tab)
        tab.resize(900, 600)
        tab.show()
        return tab

    def _change(self, settings: UiSettings) -> None:
        self.settings = settings


@pytest.fixture
def bridge(
    qtbot: QtBot, tmp_path: Path, private_pulse: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    # The engine plays the Result page's utterances into a private PulseAudio's null sink.
    monkeypatch.setenv("XDG_RUNTIME_DIR", private_pulse["XDG_RUNTIME_DIR"])
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), threads=1),
                          restart_delay_ms=200, heartbeat_timeout_s=120)  # fmt: skip
    with qtbot.waitSignal(bridge.engine_ready, timeout=60_000):
        bridge.start()
    yield bridge
    bridge.stop()


def plan_tune(qtbot: QtBot, wizard: Wizard, data: Path, base: Path | str, out: Path) -> TuneTab:
    tab = wizard.tab
    tab.plan_page.base.setCurrentText(str(base))
    tab.data_page.path.setText(str(data))
    with qtbot.waitSignal(wizard.bridge.tune_data_checked, timeout=120_000):
        tab.data_page.check_button.click()
    assert tab.next_button.isEnabled()
    tab.next_button.click()
    assert tab.stack.currentIndex() == PLAN
    tab.plan_page.out.setText(str(out))
    return tab


def test_the_wizard_walks_from_data_to_a_used_model(
    qtbot: QtBot, tmp_path: Path, bridge: EngineBridge, data: Path
) -> None:
    # The embedded tiny.en, not a random model: its export's verification (the shipped FLEURS
    # clips, transcribed by torch and by onnxruntime) then takes seconds, not minutes.
    wizard = Wizard(qtbot, tmp_path, bridge)
    tab = wizard.tab
    assert tab.stack.currentIndex() == DATA and not tab.next_button.isEnabled()
    assert tab.resume_bar.isHidden()
    out = tmp_path / "tune"
    plan_tune(qtbot, wizard, data, "whisper-tiny.en", out)

    # Data: 13 clips, two of them bad, each named with its reason; 10 train + 1 validation.
    checked = tab.data_page.report.checked
    assert (checked.train_rows, checked.validation_rows) == (10, 1)
    table = tab.data_page.bad_rows
    problems = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert set(problems) == {"broken.wav", next(k for k in problems if k != "broken.wav")}
    assert problems["broken.wav"].startswith("audio cannot be decoded")
    assert "not found" in next(v for k, v in problems.items() if k != "broken.wav")
    assert "10 rows to train on, 1 held out" in tab.data_page.summary.text()

    # Plan: the engine measures real steps; nothing is written into the tune's folder.
    tab.plan_page.choose_preset("Custom")
    assert tab.plan_page.custom.isEnabled()
    with qtbot.waitSignal(bridge.tune_estimated, timeout=120_000) as estimated:
        tab.plan_page.estimate_button.click()
    estimate = estimated.args[0].estimate
    assert estimate is not None, estimated.args[0].error
    assert estimate.total_steps == 3 and estimate.step_seconds > 0
    assert estimate.seconds >= 3 * estimate.step_seconds
    assert estimate.peak_memory_bytes > 0 and 0 < estimate.disk_bytes < estimate.free_disk_bytes
    assert estimate.fits and tab.plan_page.warning.isHidden()
    assert "3 steps" in tab.plan_page.estimate_label.text()
    assert not out.exists()

    # Train: live charts from the engine's events, then the Result page.
    evaluations: list[EvalDone] = []
    bridge.tune_progress.connect(lambda u: isinstance(u, EvalDone) and evaluations.append(u))
    with qtbot.waitSignal(bridge.tune_result, timeout=240_000) as ended:
        tab.plan_page.start_button.click()
        assert tab.stack.currentIndex() == TRAIN and wizard.record.is_file()
    result = ended.args[0]
    assert result.error is None and result.summary is not None
    assert [s for s, _ in tab.train_page.losses] == [1, 2, 3]
    assert all(loss > 0 for _, loss in tab.train_page.losses)
    assert len(tab.train_page.rates) == 3 and tab.train_page.wers
    assert tab.train_page.loss_curve.getData()[0].tolist() == [1, 2, 3]
    assert tab.stack.currentIndex() == RESULT and not wizard.record.exists()

    summary = json.loads((out / "tune-summary.json").read_text(encoding="utf-8"))
    page = tab.result_page
    assert page.before.text() == wer_text(summary["wer_before"])
    assert page.after.text() == wer_text(summary["wer_after"])
    assert summary["config"]["lora_rank"] == 4 and summary["steps"] == 3
    assert f"{summary['steps']} steps" in page.headline.text()
    # The regression guard: general English (the shipped FLEURS clips) scored before and after.
    assert summary["general_wer_before"] is not None and summary["general_wer_after"] is not None
    assert page.general_before.text() == wer_text(summary["general_wer_before"])
    assert page.general_after.text() == wer_text(summary["general_wer_after"])
    assert "General English" in page.guard.text()

    # The worst held-out sentences: their word diffs count what WER counts; each one plays.
    worst = [w for w in evaluations[-1].worst if w.wer > 0]
    assert evaluations[-1].label == "after" and len(page.play_buttons) == len(worst) > 0
    for utterance in worst:
        parts = word_alignment(utterance.reference, utterance.hypothesis)
        errors = sum(
            max(len(x.reference.split()), len(x.hypothesis.split()))
            for x in parts
            if x.op != "equal"
        )
        assert errors / len(utterance.reference.split()) == pytest.approx(utterance.wer)
        assert Path(utterance.path).is_file() and Path(utterance.path).parent == data
    with qtbot.waitSignal(bridge.playback_stopped, timeout=60_000) as played:
        page.play_buttons[0].click()
    assert played.args == [None]

    # Export: the engine exports base + adapter to ONNX, verifies it, and the page says how.
    with qtbot.waitSignal(bridge.export_done, timeout=300_000) as exported:
        page.export_buttons["onnx"].click()
        assert not page.export_buttons["onnx"].isEnabled()
    done = exported.args[0]
    assert done.error is None, done.error
    report = json.loads((out / "exports" / "onnx" / "export-report.json").read_text())
    assert done.report.wer_export == report["export"]["wer"]
    assert done.report.export_bytes == report["export_bytes"] > 0
    assert wer_text(report["export"]["wer"]) in page.export_status.text()
    assert page.export_buttons["onnx"].isEnabled()

    # Use this model: registered by the tune, now the default for files and live.
    assert summary["registered_as"] == f"tuned-{out.name}"
    assert page.use_button.isEnabled()
    page.use_button.click()
    assert wizard.settings.model == summary["registered_as"]


def test_resume_after_the_engine_is_killed_finishes_like_an_uninterrupted_run(
    qtbot: QtBot, tmp_path: Path, bridge: EngineBridge, data: Path, tiny_whisper: Path
) -> None:
    from voxtune.engine.tune import run_tune

    wizard = Wizard(qtbot, tmp_path, bridge)
    out = tmp_path / "killed"
    tab = plan_tune(qtbot, wizard, data, tiny_whisper, out)
    # Evaluations only before and after, and no general-English guard: resuming is the point.
    tab.overrides |= {"max_steps": 6, "eval_every": 100, "general": None}
    config = tab.planned_config()

    def kill_at_step_two(update: object) -> None:
        if isinstance(update, CheckpointSaved) and update.step == 2:
            os.kill(bridge.pid, signal.SIGKILL)

    bridge.tune_progress.connect(kill_at_step_two)
    with qtbot.waitSignal(bridge.engine_ready, timeout=240_000):
        tab.plan_page.start_button.click()
    bridge.tune_progress.disconnect(kill_at_step_two)
    assert not (out / "tune-summary.json").exists()
    assert tab.resume_bar.isVisible() and "at step" in tab.resume_label.text()

    # The next start of the app offers the same, from the record the tab left.
    reopened = wizard.open(qtbot)
    assert reopened.resume_bar.isVisible()
    assert tune_pending.pending(wizard.record) == replace(config, resume=True)
    with qtbot.waitSignal(bridge.tune_result, timeout=240_000) as ended:
        reopened.resume_button.click()
    result = ended.args[0]
    assert result.error is None and result.summary.steps == 6
    assert reopened.train_page.progress.value() == 6
    assert min(s for s, _ in reopened.train_page.losses) >= 2  # continued, not restarted

    # The same run, never interrupted, in this process.
    straight = replace(config, out=tmp_path / "straight", register_as=None)
    list(run_tune(straight))
    resumed, reference = load_file(str(out / ADAPTER)), load_file(str(straight.out / ADAPTER))
    assert resumed.keys() == reference.keys()
    for name, tensor in reference.items():
        torch.testing.assert_close(resumed[name], tensor, atol=1e-6, rtol=0)
