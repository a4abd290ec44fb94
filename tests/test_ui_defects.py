"""What a new user hit in the desktop app (issue 18, "Broken"), each on the real engine.

One engine serves the module (starting one costs seconds); the tests that need a different
one (its environment is read at spawn) start their own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import sound_server_unavailable
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from voxtune.engine.config import EngineConfig
from voxtune.engine.jobs.job import DEFAULT_MODEL, Job, JobState
from voxtune.ui.banner import EngineBanner
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.job_table import CANCELLING, COLUMNS, INTERRUPTED
from voxtune.ui.live_tab import LiveTab
from voxtune.ui.main_window import MainWindow
from voxtune.ui.settings import UiSettings, open_qsettings, save_settings

JOB_TIMEOUT_MS = 240_000  # the first job imports the embedded model; the machine is shared
STATE = COLUMNS.index("State")


@pytest.fixture(scope="module")
def window(qapp: QApplication, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MainWindow]:
    folder = tmp_path_factory.mktemp("defects")
    store = open_qsettings(folder / "settings.ini")
    save_settings(store, UiSettings(output_dir=str(folder / "out"), beam_size=1))
    bridge = EngineBridge(EngineConfig(db_path=str(folder / "jobs.sqlite3"), threads=1))
    window = MainWindow(bridge, store, log_folder=folder / "logs")
    bridge.start()
    window.show()
    yield window
    window.close()
    window.deleteLater()


def job_for(window: MainWindow, path: Path, model: str | None = None) -> Job | None:
    for job in window.files_tab.model.jobs():
        if Path(job.spec.input_path) == path.resolve() and model in (None, job.spec.model):
            return job
    return None


def wait_done(qtbot: QtBot, window: MainWindow, path: Path, model: str = DEFAULT_MODEL) -> Job:
    def done() -> bool:
        job = job_for(window, path, model)
        return job is not None and job.state == JobState.DONE

    qtbot.waitUntil(done, timeout=JOB_TIMEOUT_MS)
    job = job_for(window, path, model)
    assert job is not None
    return job


def select(window: MainWindow, job: Job) -> None:
    window.files_tab.table.clearSelection()
    window.files_tab.table.selectRow([j.id for j in window.files_tab.model.jobs()].index(job.id))


# 1 -------------------------------------------------------------------------------------------


def test_models_tab_says_a_hub_model_is_not_downloaded_and_its_size(
    qtbot: QtBot, window: MainWindow
) -> None:
    tab = window.models_tab
    qtbot.waitUntil(lambda: tab.table.rowCount() > 0, timeout=60_000)
    rows = {tab.table.item(r, 0).text(): r for r in range(tab.table.rowCount())}
    # 1.7B: no test downloads or converts it into the session's home (0.6B may be there).
    assert tab.table.item(rows["qwen3-asr-1.7b"], 3).text() == "not downloaded (4.7 GB)"
    assert "not imported yet" not in tab.table.item(rows["qwen3-asr-0.6b"], 3).text()


# 2, 3 ----------------------------------------------------------------------------------------


def test_a_failure_is_shown_in_full_and_retry_uses_the_settings_as_they_are_now(
    qtbot: QtBot, window: MainWindow, english_dev: list
) -> None:
    path = english_dev[1].path
    tab = window.files_tab
    window.change_settings(replace(window.current_settings(), model="no-such-model"))
    tab.add_paths([path])
    qtbot.waitUntil(
        lambda: (job := job_for(window, path)) is not None and job.state == JobState.FAILED,
        timeout=JOB_TIMEOUT_MS,
    )
    failed = job_for(window, path)
    assert failed is not None and failed.error and "no-such-model" in failed.error
    select(window, failed)
    # The whole reason, on screen below the table, not in a tooltip cut off at the edge.
    assert tab.details.isVisible() and failed.error in tab.details.text()
    assert tab.details.wordWrap() and tab.details.width() <= window.width()

    window.change_settings(replace(window.current_settings(), model=DEFAULT_MODEL))
    assert tab.retry_button.isEnabled()
    with qtbot.waitSignal(
        window.bridge.job_queued,
        check_params_cb=lambda job: job.spec.model == DEFAULT_MODEL,
        timeout=30_000,
    ):
        qtbot.mouseClick(tab.retry_button, Qt.MouseButton.LeftButton)
    done = wait_done(qtbot, window, path)
    assert done.outputs and Path(done.outputs[0]).is_file()


# 4, 6 ----------------------------------------------------------------------------------------


def test_adding_a_finished_file_again_says_so_and_open_output_says_where_it_is(
    qtbot: QtBot, window: MainWindow, english_dev: list
) -> None:
    path = english_dev[1].path  # done by the test above, or now
    tab = window.files_tab
    if job_for(window, path, DEFAULT_MODEL) is None:
        tab.add_paths([path])
    done = wait_done(qtbot, window, path)
    rows = tab.model.rowCount()
    tab.table.clearSelection()
    tab.add_paths([path])
    qtbot.waitUntil(lambda: "already transcribed" in tab.hint.text(), timeout=30_000)
    assert tab.hint.isVisible() and path.name in tab.hint.text()
    assert tab.model.rowCount() == rows and tab.selected_jobs() == [tab.model.job(done.id)]

    # No desktop launcher here (offscreen): the path is shown instead of nothing happening.
    qtbot.mouseClick(tab.open_button, Qt.MouseButton.LeftButton)
    assert done.outputs[0] in tab.hint.text() and tab.hint.isVisible()


# 5 -------------------------------------------------------------------------------------------


def test_columns_fit_1024_pixels_and_a_state_note_does_not_reshuffle_them(
    qtbot: QtBot, window: MainWindow, english_dev: list
) -> None:
    tab = window.files_tab
    if not tab.model.rowCount():
        tab.add_paths([english_dev[1].path])
        qtbot.waitUntil(lambda: tab.model.rowCount() > 0, timeout=30_000)
    window.resize(1024, 700)
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: window.width() == 1024)
    header = tab.table.horizontalHeader()
    before = [header.sectionSize(c) for c in range(len(COLUMNS))]
    assert sum(before) <= tab.table.viewport().width()
    assert not tab.table.horizontalScrollBar().isVisible()
    assert header.sectionSize(STATE) >= tab.table.fontMetrics().horizontalAdvance(INTERRUPTED)
    assert header.sectionSize(COLUMNS.index("File")) >= 200
    ids = tuple(j.id for j in tab.model.jobs())
    tab.model.on_engine_died("the engine was killed", ids)
    QApplication.processEvents()
    assert [header.sectionSize(c) for c in range(len(COLUMNS))] == before
    for job in tab.model.jobs():
        tab.model.upsert(job)  # the notes go again


# 7 -------------------------------------------------------------------------------------------


def test_the_engine_banner_draws_its_background_and_border(qtbot: QtBot) -> None:
    banner = EngineBanner()
    qtbot.addWidget(banner)
    banner.resize(600, 40)
    banner.show_death("the engine was killed (signal 9)", (3,))
    image = banner.grab().toImage()
    assert image.pixelColor(0, 20) == QColor("#c62828")  # the border
    assert image.pixelColor(3, 3) == QColor("#fdecea")  # the background


# 8 -------------------------------------------------------------------------------------------


def test_the_microphone_list_follows_a_sound_server_started_later(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("pulseaudio") is None:
        sound_server_unavailable(
            "PulseAudio is not installed (apt-get install pulseaudio pulseaudio-utils)"
        )
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # the engine inherits it at spawn
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    config = EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), run_queue=False)
    bridge = EngineBridge(config)
    settings = UiSettings()
    tab = LiveTab(bridge, lambda: settings)
    qtbot.addWidget(tab)
    with qtbot.waitSignal(bridge.devices_listed, timeout=60_000):
        bridge.start()
    names = lambda: [tab.device_box.itemText(i) for i in range(tab.device_box.count())]  # noqa: E731
    assert "pulse" not in names()  # no sound server yet
    subprocess.run(
        ["pulseaudio", "-D", "--exit-idle-time=-1", "-n",
         "--load=module-null-sink sink_name=vt_sink", "--load=module-native-protocol-unix"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    try:
        qtbot.waitUntil(lambda: "pulse" in names(), timeout=30_000)  # no engine restart
    finally:
        bridge.stop()
        pid_file = runtime / "pulse" / "pid"
        if pid_file.is_file():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)


# 9, 10 ---------------------------------------------------------------------------------------


def test_an_english_only_model_asked_to_detect_the_language_warns(
    qtbot: QtBot, window: MainWindow, dev_set: list
) -> None:
    tab = window.files_tab
    qtbot.waitUntil(lambda: DEFAULT_MODEL in tab.languages, timeout=60_000)
    assert tab.languages[DEFAULT_MODEL] == ("en",)
    window.change_settings(replace(window.current_settings(), language=""))
    german = next(u for u in dev_set if u.language == "de")
    tab.add_paths([german.path])
    assert tab.hint.isVisible() and "English only" in tab.hint.text()
    assert DEFAULT_MODEL in tab.hint.text()
    qtbot.waitUntil(lambda: job_for(window, german.path) is not None, timeout=30_000)
    job = job_for(window, german.path)
    assert job is not None
    if not job.state.finished:
        select(window, job)
        tab.cancel_selected()  # it only had to be warned about


def test_hints_cancelling_and_new_rows_in_view(
    qtbot: QtBot, window: MainWindow, english_dev: list, tmp_path: Path
) -> None:
    tab = window.files_tab
    window.change_settings(replace(window.current_settings(), language="en"))
    empty = tmp_path / "emptydir"
    empty.mkdir()
    tab.add_paths([empty])
    assert tab.hint.isVisible() and tab.hint.text().startswith("emptydir:")

    # A short table: the next job lands below its fold and must be scrolled to.
    rows = tab.table.verticalHeader().defaultSectionSize()
    tab.table.setFixedHeight(tab.table.horizontalHeader().height() + 2 * rows)
    path = english_dev[2].path
    tab.add_paths([path])
    assert not tab.hint.isVisible()  # the old hint is no longer true
    qtbot.waitUntil(lambda: job_for(window, path) is not None, timeout=30_000)
    last = tab.model.index(tab.model.rowCount() - 1, 0)
    assert tab.model.rowCount() > 2  # more than fit
    qtbot.waitUntil(lambda: tab.table.viewport().rect().intersects(tab.table.visualRect(last)))

    job = job_for(window, path)
    assert job is not None
    if not job.state.finished:
        select(window, job)
        tab.cancel_selected()
        # At once, before the engine answers: the user sees the click was heard.
        assert tab.model.index(last.row(), STATE).data() == CANCELLING
        qtbot.waitUntil(
            lambda: tab.model.index(last.row(), STATE).data() in ("cancelled", "done"),
            timeout=60_000,
        )
    tab.table.setMinimumHeight(0)
    tab.table.setMaximumHeight(16_777_215)


def test_settings_offer_the_models_refuse_unknown_ones_and_show_unsaved_changes(
    qtbot: QtBot, window: MainWindow
) -> None:
    tab = window.settings_tab
    qtbot.waitUntil(lambda: DEFAULT_MODEL in tab.known_models, timeout=60_000)
    offered = [tab.model_box.itemText(i) for i in range(tab.model_box.count())]
    assert "whisper-base" in offered
    assert not tab.apply_button.isEnabled() and "Unsaved" not in tab.note.text()
    tab.beam_spin.setValue(tab.beam_spin.value() % 5 + 1)
    assert tab.apply_button.isEnabled() and "Unsaved changes" in tab.note.text()
    tab.model_box.setEditText("whisper-tinny.en")
    assert not tab.apply_button.isEnabled() and "Unknown model 'whisper-tinny.en'" in (
        tab.note.text()
    )
    tab.apply()
    assert window.current_settings().model == DEFAULT_MODEL  # refused
    tab.model_box.setEditText("whisper-base")
    qtbot.mouseClick(tab.apply_button, Qt.MouseButton.LeftButton)
    assert window.current_settings().model == "whisper-base"
    assert not tab.apply_button.isEnabled() and "Unsaved" not in tab.note.text()
    # The output folder is chosen in one place: the Files tab.
    assert not hasattr(tab, "output_edit")
    stored = QSettings(window.store.fileName(), QSettings.Format.IniFormat)
    assert stored.value("model") == "whisper-base"
    window.change_settings(replace(window.current_settings(), model=DEFAULT_MODEL))


# Missing: clear the job history, delete a model (menu items) ---------------------------------


def test_clear_finished_jobs_empties_the_table_from_the_menu(
    qtbot: QtBot, window: MainWindow
) -> None:
    tab = window.files_tab
    qtbot.waitUntil(lambda: all(j.state.finished for j in tab.model.jobs()), timeout=60_000)
    assert tab.model.rowCount() > 0
    window.clear_jobs_action.trigger()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 0, timeout=30_000)


def test_an_imported_model_shows_at_once_and_the_menu_removes_it(
    qtbot: QtBot, window: MainWindow, tiny_asr: Path
) -> None:
    tab = window.models_tab

    def names() -> list[str]:
        return [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]

    before = set(names())
    with qtbot.waitSignal(window.bridge.models_changed, timeout=120_000):
        tab.import_folder(str(tiny_asr))
    (added,) = set(names()) - before  # no other action needed to see it (was stale)
    row = names().index(added)
    assert tab.table.item(row, 3).text().endswith("MB")
    tab.table.selectRow(row)
    with qtbot.waitSignal(window.bridge.models_changed, timeout=60_000):
        window.remove_model_action.trigger()
    assert added not in names()
