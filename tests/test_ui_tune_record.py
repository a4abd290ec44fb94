"""The Data step's recording panel on a real engine and a real microphone: real speech played
into a private PulseAudio's null sink is what the engine records (conftest ``private_pulse``).
Sentences pasted, a silent take flagged and recorded again, each take played back, and the
takes' manifest checked and ready to tune on.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from media_factory import best_alignment
from pytestqt.qtbot import QtBot

from voxtune.engine.audio import decode_audio
from voxtune.engine.audio.recording_check import check_recording
from voxtune.engine.config import EngineConfig
from voxtune.engine.tune.datasets import read_dataset
from voxtune.engine.tune.recordings import RecordingSet
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.settings import UiSettings
from voxtune.ui.tune_tab import TuneTab

PROMPTS = (
    "Please enter your password followed by the pound key.",
    "Please enter the channel number followed by the pound key.",
    "Please enter the conference pin number.",
)


@pytest.fixture
def tab(
    qtbot: QtBot, tmp_path: Path, private_pulse: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TuneTab]:
    # The engine is spawned with this environment: it records from the private PulseAudio.
    monkeypatch.setenv("XDG_RUNTIME_DIR", private_pulse["XDG_RUNTIME_DIR"])
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), threads=1),
                          heartbeat_timeout_s=120)  # fmt: skip
    with qtbot.waitSignal(bridge.engine_ready, timeout=60_000):
        bridge.start()
    settings = UiSettings(output_dir=str(tmp_path / "out"), input_device="pulse")
    tab = TuneTab(
        bridge, lambda: settings, lambda _: None, pending_record=tmp_path / "pending.json",
        recordings=RecordingSet(tmp_path / "voice"),
    )  # fmt: skip
    qtbot.addWidget(tab)
    tab.resize(1000, 650)
    tab.show()
    yield tab
    bridge.stop()


def record(qtbot: QtBot, tab: TuneTab, play: Path | None, env: dict[str, str]):  # type: ignore[no-untyped-def]
    """One take of the selected sentence: Record, ``play`` into the microphone, Stop."""
    panel, bridge = tab.record_panel, tab.bridge
    with qtbot.waitSignal(bridge.recording_level, timeout=60_000):  # the stream is open
        panel.record_button.click()
    assert panel.record_button.text() == "Stop" and not panel.table.isEnabled()
    if play is not None:
        subprocess.run(["paplay", str(play)], env=env, check=True, timeout=60)
    with qtbot.waitSignal(bridge.recording_saved, timeout=60_000) as saved:
        panel.record_button.click()
    return saved.args[0]


def test_sentences_recorded_checked_played_and_tuned_on(
    qtbot: QtBot, tab: TuneTab, private_pulse: dict[str, str], ivr_set: list
) -> None:
    panel = tab.record_panel
    spoken = {u.reference: u.path for u in ivr_set}
    panel.sentences.setPlainText("\n".join(PROMPTS[:2]) + "\n\n  " + PROMPTS[2] + "  \n")
    panel.apply_button.click()
    assert panel.table.rowCount() == 3 and panel.selected_row() == 0
    assert [panel.table.item(r, 0).text() for r in range(3)] == list(PROMPTS)
    assert not panel.play_button.isEnabled() and not panel.use_button.isEnabled()

    # Nothing said: the take is flagged as silence, and the row stays for another go.
    silent = record(qtbot, tab, None, private_pulse)
    assert silent.error is None and any(w.startswith("silence") for w in silent.warnings)
    assert "silence" in panel.table.item(0, 1).text()
    assert panel.selected_row() == 0 and panel.record_button.text() == "Re-record"

    for row, sentence in enumerate(PROMPTS):
        assert panel.selected_row() == row  # each good take moves on to the next sentence
        take = record(qtbot, tab, spoken[sentence], private_pulse)
        assert take.error is None and take.warnings == (), take.warnings
        assert take.path == str(panel.set.take(row)) and take.peak_dbfs > -30
        recorded, reference = decode_audio(take.path), decode_audio(spoken[sentence])
        assert take.seconds == pytest.approx(len(recorded) / 16000, abs=0.01)
        _, correlation, overlap = best_alignment(recorded, reference)
        assert overlap > 0.95 * len(reference) and correlation > 0.9  # the sentence, all of it
        assert panel.table.item(row, 1).text() == f"{take.seconds:.1f} s"

    # Played back through the engine, as the editor plays.
    panel.table.selectRow(1)
    assert panel.play_button.isEnabled()
    positions: list[float] = []
    tab.bridge.playback_position.connect(positions.append)
    with qtbot.waitSignal(tab.bridge.playback_stopped, timeout=60_000) as stopped:
        panel.play_button.click()
    assert stopped.args == [None]
    assert max(positions) == pytest.approx(len(decode_audio(panel.set.take(1))) / 16000, abs=0.1)

    # The takes are a manifest both finetune and eval read; the wizard checks it as data.
    rows = read_dataset(panel.set.manifest)
    assert [r.text for r in rows] == list(PROMPTS)
    assert [r.audio for r in rows] == [panel.set.take(i) for i in range(3)]
    assert panel.use_button.isEnabled()
    with qtbot.waitSignal(tab.bridge.tune_data_checked, timeout=120_000) as checked:
        panel.use_button.click()
    report = checked.args[0]
    assert report.error is None and report.checked.bad_rows == ()
    assert report.checked.train_rows + report.checked.validation_rows == 3
    assert tab.data_page.path.text() == str(panel.set.manifest)
    assert tab.next_button.isEnabled()

    # The set outlives the window: a new tab shows the same sentences, recorded.
    again = TuneTab(
        tab.bridge, lambda: UiSettings(), lambda _: None, recordings=panel.set,
        pending_record=panel.set.folder / "pending.json",
    )  # fmt: skip
    qtbot.addWidget(again)
    table = again.record_panel.table
    assert [table.item(r, 1).text() for r in range(3)] == ["recorded"] * 3


def test_changing_a_sentence_drops_only_its_take(tmp_path: Path) -> None:
    recordings = RecordingSet(tmp_path / "set")
    recordings.save_sentences(["one two three", "four five six"])
    for index in range(2):
        recordings.take(index).write_bytes(b"RIFF")
    recordings.save_sentences(["one two three", "four five seven", "eight"])
    assert recordings.recorded() == [0]
    assert read_dataset(recordings.manifest)[0].text == "one two three"


def test_takes_too_short_or_clipped_are_named() -> None:
    rate = 16000
    t = np.arange(3 * rate) / rate
    speechlike = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(
        np.float32
    )
    assert check_recording(speechlike, rate).warnings == ()
    short = check_recording(speechlike[: rate // 4], rate)
    assert [w.split(":")[0] for w in short.warnings] == ["too short"]
    clipped = check_recording(np.clip(speechlike * 10, -1, 1), rate)
    assert [w.split(":")[0] for w in clipped.warnings] == ["clipping"]
    assert clipped.clipped_fraction > 0.1
    silent = check_recording(np.zeros(2 * rate, dtype=np.float32), rate)
    assert [w.split(":")[0] for w in silent.warnings] == ["silence"]
