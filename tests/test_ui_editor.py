"""The transcript editor on the real engine: open a done job, play a word, edit, export.

Playback goes through the engine (PySide6-Essentials has no QtMultimedia) to sounddevice, on
a private PulseAudio whose null sink's monitor we record with ``parec``: the words played
must really come out of the sound system, not just be reported as played.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import srt
import webvtt
from pytestqt.qtbot import QtBot

from voxtune.engine.config import EngineConfig
from voxtune.engine.jobs.job import JobState
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.editor_window import TranscriptEditor
from voxtune.ui.main_window import MainWindow
from voxtune.ui.settings import UiSettings, open_qsettings, save_settings

JOB_TIMEOUT_MS = 240_000  # the first job imports the embedded model; the machine is shared


@pytest.fixture
def window(
    qtbot: QtBot, tmp_path: Path, private_pulse: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    # The engine is spawned with this environment, so it plays into the private PulseAudio.
    monkeypatch.setenv("XDG_RUNTIME_DIR", private_pulse["XDG_RUNTIME_DIR"])
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    store = open_qsettings(tmp_path / "settings.ini")
    settings = UiSettings(
        output_dir=str(tmp_path / "out"), beam_size=1, formats=("srt", "vtt", "txt", "json")
    )
    save_settings(store, settings)
    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), threads=1))
    window = MainWindow(bridge, store, log_folder=tmp_path / "logs")
    qtbot.addWidget(window)
    bridge.start()
    window.show()
    yield window
    window.close()


def open_done_job(qtbot: QtBot, window: MainWindow, path: Path) -> TranscriptEditor:
    window.files_tab.add_paths([path])
    model = window.files_tab.model
    qtbot.waitUntil(
        lambda: model.rowCount() == 1 and model.job_at(0).state == JobState.DONE,
        timeout=JOB_TIMEOUT_MS,
    )
    table = window.files_tab.table
    table.selectRow(0)
    with qtbot.waitSignal(window.bridge.transcript_opened, timeout=30_000):
        table.doubleClicked.emit(model.index(0, 0))  # a double-click on a done job
    editor = window.editors[model.job_at(0).id]
    qtbot.waitUntil(editor.isVisible)
    return editor


def test_play_edit_split_merge_undo_and_export(
    qtbot: QtBot, window: MainWindow, english_dev: list, private_pulse: dict[str, str]
) -> None:
    utterance = english_dev[0]
    editor = open_done_job(qtbot, window, utterance.path)
    model = editor.model
    assert model.rowCount() >= 1
    first = model.segment(0)
    assert len(first.words) >= 4 and first.text.strip()
    # Confidence colours: the text cell is painted in its band's colour.
    assert model.data(model.index(0, 2), role=9) is not None  # Qt.ForegroundRole

    # Play from the second word: it is highlighted while heard, and the sink hears it.
    heard: list[tuple[int, int]] = []
    window.bridge.playback_position.connect(
        lambda _: editor.current_word is not None and heard.append(editor.current_word)
    )
    recorder = subprocess.Popen(
        ["parec", "-d", "vt_sink.monitor", "--format=s16le", "--rate=16000", "--channels=1"],
        env=private_pulse, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        with qtbot.waitSignal(window.bridge.playback_stopped, timeout=60_000) as stopped:
            editor.play_word(0, 1)
    finally:
        recorder.send_signal(signal.SIGINT)
        raw, _ = recorder.communicate(timeout=30)
    assert stopped.args == [None]
    assert heard and heard[0] == (0, 1)  # the first word heard is the one clicked
    assert all(row == 0 and index >= 1 for row, index in heard)
    recorded = np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768
    # The null sink's monitor is exact zeros when nothing plays: the speech is the rest.
    assert np.count_nonzero(recorded) > 0.3 * 16000 and np.abs(recorded).max() > 0.01

    # Edit the text, then split before word 2, merge back, undo and redo.
    before = model.segments()
    assert model.setData(model.index(0, 2), "Voxtune " + first.text.strip())
    assert model.segment(0).text.strip().startswith("Voxtune ")
    assert not model.setData(model.index(0, 0), "not a time")  # refused, nothing changed
    rows = model.rowCount()
    editor.split_at(0, 2)
    assert model.rowCount() == rows + 1
    assert model.segment(0).end == model.segment(1).start
    editor.merge_with_next(0)
    assert model.rowCount() == rows
    editor.undo.undo()  # the merge
    assert model.rowCount() == rows + 1
    editor.undo.undo()  # the split
    editor.undo.undo()  # the text edit
    assert model.segments() == before
    editor.undo.redo()
    editor.undo.redo()  # text edit and split again
    assert model.rowCount() == rows + 1
    assert model.segment(0).text.strip().startswith("Voxtune")
    assert editor.replace_all("Voxtune", "VOXTUNE") == 1
    assert model.segment(0).text.strip().startswith("VOXTUNE")

    # Save: the engine keeps the edits and writes the four formats again.
    with qtbot.waitSignal(editor.saved, timeout=30_000) as saved:
        editor.save()
    outputs = {Path(o).suffix: Path(o) for o in saved.args[0]}
    assert set(outputs) == {".srt", ".vtt", ".txt", ".json"}
    cues = list(srt.parse(outputs[".srt"].read_text(encoding="utf-8")))
    assert cues[0].content.replace("\n", " ").startswith("VOXTUNE")
    assert [c.start for c in cues] == sorted(c.start for c in cues)
    vtt = webvtt.read(str(outputs[".vtt"]))
    assert vtt.captions[0].text.replace("\n", " ").startswith("VOXTUNE")
    assert outputs[".txt"].read_text(encoding="utf-8").startswith("VOXTUNE")
    assert editor.undo.isClean()

    # Opened again (a new editor), the job shows the edits from the job store.
    job_id = editor.job_id
    editor.close()
    with qtbot.waitSignal(window.bridge.transcript_opened, timeout=30_000) as opened:
        window.open_editor(job_id)
    assert opened.args[0].edited
    assert opened.args[0].transcript.segments == editor.model.segments()
