"""The Files tab on the real engine process: drops, SRTs, a persistent queue, engine death."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import srt
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from voxtune.engine.config import EngineConfig
from voxtune.engine.evaluation import normalize_text, word_error_rate
from voxtune.engine.jobs.job import JobState
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.files_tab import media_files
from voxtune.ui.job_table import COLUMNS
from voxtune.ui.main_window import MainWindow
from voxtune.ui.settings import UiSettings, open_qsettings, save_settings

# QDragEnterEvent has no other constructor in Qt 6; the warning is about its QPoint argument.
pytestmark = pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")
JOB_TIMEOUT_MS = 240_000  # first job imports the embedded model; the machine is shared


def make_window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    store = open_qsettings(tmp_path / "settings.ini")
    save_settings(store, UiSettings(output_dir=str(tmp_path / "out"), beam_size=1))
    config = EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), threads=1)
    bridge = EngineBridge(config, restart_delay_ms=100)
    window = MainWindow(bridge, store, log_folder=tmp_path / "logs")
    qtbot.addWidget(window)
    bridge.start()
    window.show()
    return window


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    window = make_window(qtbot, tmp_path)
    yield window
    window.close()


def drop(window: MainWindow, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point, action = QPointF(20, 20), Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(point.toPoint(), action, mime, buttons, modifiers)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(point, action, mime, buttons, modifiers))


def states(window: MainWindow) -> list[JobState]:
    return [job.state for job in window.files_tab.model.jobs()]


def srt_text(path: str) -> str:
    subtitles = list(srt.parse(Path(path).read_text(encoding="utf-8")))
    assert subtitles, f"{path} has no cues"
    return " ".join(s.content.replace("\n", " ") for s in subtitles)


def test_dropping_two_files_makes_two_jobs_that_write_srts(
    qtbot: QtBot, window: MainWindow, english_dev: list, tmp_path: Path
) -> None:
    utterances = english_dev[:2]
    drop(window, [u.path for u in utterances])
    model = window.files_tab.model
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=30_000)
    qtbot.waitUntil(lambda: states(window) == [JobState.DONE] * 2, timeout=JOB_TIMEOUT_MS)

    for row, utterance in enumerate(utterances):
        job = model.job_at(row)
        assert Path(job.spec.input_path) == utterance.path.resolve()
        (output,) = job.outputs
        assert Path(output).parent == tmp_path / "out" and output.endswith(".srt")
        hypothesis = normalize_text(srt_text(output))
        assert word_error_rate([normalize_text(utterance.reference)], [hypothesis]) < 0.4
        cells = {c: model.index(row, i).data() for i, c in enumerate(COLUMNS)}
        assert cells["Progress"] == "100%" and cells["State"] == "done"
        assert cells["Duration"] != "–" and cells["Output"] == Path(output).name

    # The queue is the job store: a new window on the same store shows the same jobs.
    window.close()
    again = make_window(qtbot, tmp_path)
    try:
        qtbot.waitUntil(lambda: again.files_tab.model.rowCount() == 2, timeout=60_000)
        assert states(again) == [JobState.DONE] * 2
        assert [j.outputs for j in again.files_tab.model.jobs()] == [
            j.outputs for j in model.jobs()
        ]
    finally:
        again.close()


def test_killed_engine_shows_banner_restarts_and_runs_the_next_job(
    qtbot: QtBot, window: MainWindow, english_dev: list, tmp_path: Path
) -> None:
    bridge = window.bridge
    qtbot.waitUntil(lambda: "ready" in window.engine_label.text(), timeout=60_000)
    first_pid = bridge.pid
    with qtbot.waitSignal(bridge.job_started, timeout=60_000):
        window.files_tab.add_paths([english_dev[2].path])
    assert first_pid is not None
    with qtbot.waitSignal(bridge.engine_restarted, timeout=30_000):
        os.kill(first_pid, signal.SIGKILL)
        qtbot.waitUntil(window.banner.isVisible, timeout=30_000)
        assert "engine" in window.banner.label.text() and "killed" in window.banner.label.text()
        assert "1 running job" in window.banner.label.text()
    assert bridge.pid != first_pid and bridge.restarts == 1

    window.files_tab.add_paths([english_dev[3].path])
    qtbot.waitUntil(lambda: states(window) == [JobState.DONE] * 2, timeout=JOB_TIMEOUT_MS)
    for job in window.files_tab.model.jobs():
        assert normalize_text(srt_text(job.outputs[0]))
    assert "restarted" in window.banner.label.text()


def test_a_file_that_is_not_audio_fails_with_its_name(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    bogus = tmp_path / "notes.ogg"
    bogus.write_text("this is not audio\n")
    window.files_tab.add_paths([bogus])
    model = window.files_tab.model
    qtbot.waitUntil(lambda: states(window) == [JobState.FAILED], timeout=JOB_TIMEOUT_MS)
    job = model.job_at(0)
    assert job.error and "notes.ogg" in job.error and "\n" not in job.error
    assert model.index(0, COLUMNS.index("State")).data(Qt.ItemDataRole.ToolTipRole) == job.error
    window.files_tab.table.selectRow(0)
    assert not job.retryable  # the file will not change by trying again
    assert not window.files_tab.retry_button.isEnabled()
    assert not window.files_tab.open_button.isEnabled()


def test_cancel_then_retry_finishes_the_job(
    qtbot: QtBot, window: MainWindow, english_dev: list
) -> None:
    tab = window.files_tab
    tab.add_paths([english_dev[4].path])
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=60_000)
    tab.table.selectRow(0)
    assert tab.cancel_button.isEnabled()
    with qtbot.waitSignal(window.bridge.job_cancelled, timeout=60_000):
        qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    assert states(window) == [JobState.CANCELLED]
    assert tab.retry_button.isEnabled()
    qtbot.mouseClick(tab.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: states(window) == [JobState.DONE], timeout=JOB_TIMEOUT_MS)
    assert tab.open_button.isEnabled()
    assert normalize_text(srt_text(tab.model.job_at(0).outputs[0]))


def test_a_folder_without_media_says_so(window: MainWindow, tmp_path: Path) -> None:
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    (empty / "readme.txt").write_text("no audio here")
    assert window.files_tab.add_paths([empty]) == []
    assert window.files_tab.hint.text() == (
        "empty-folder: no audio or video files there, nothing was added."
    )


def test_folders_are_searched_for_media(tmp_path: Path, english_dev: list) -> None:
    folder = tmp_path / "talks" / "day1"
    folder.mkdir(parents=True)
    target = folder / "keynote.ogg"
    target.write_bytes(english_dev[0].path.read_bytes())
    (folder / "slides.pdf").write_bytes(b"%PDF-1.4")
    assert media_files([tmp_path / "talks"]) == [target]


def test_subtitle_rules_from_settings_go_with_each_job(
    qtbot: QtBot, window: MainWindow, english_dev: list
) -> None:
    settings_tab = window.settings_tab
    settings_tab.chars_spin.setValue(20)
    qtbot.mouseClick(settings_tab.apply_button, Qt.MouseButton.LeftButton)
    assert window.current_settings().max_line_chars == 20

    utterance = max(english_dev[:8], key=lambda u: len(u.reference))
    (sent,) = window.files_tab.add_paths([utterance.path])
    assert sent.rules.max_line_chars == 20
    model = window.files_tab.model
    qtbot.waitUntil(lambda: states(window) == [JobState.DONE], timeout=JOB_TIMEOUT_MS)
    job = model.job_at(0)
    assert job.spec == sent  # as the engine stored it, rules included
    cues = list(srt.parse(Path(job.outputs[0]).read_text(encoding="utf-8")))
    lines = [line for cue in cues for line in cue.content.splitlines()]
    assert lines and max(map(len, lines)) <= 20
