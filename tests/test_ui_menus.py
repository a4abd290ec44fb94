"""The menu bar, the theme switch and the remembered geometry (no engine needed for these)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from voxtune.engine.config import EngineConfig
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.main_window import MainWindow
from voxtune.ui.settings import load_settings, open_qsettings
from voxtune.ui.theme import apply_theme


def make_window(qtbot: QtBot, folder: Path) -> MainWindow:
    bridge = EngineBridge(EngineConfig(db_path=str(folder / "jobs.sqlite3")))  # not started
    window = MainWindow(bridge, open_qsettings(folder / "settings.ini"), log_folder=folder / "logs")
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    window = make_window(qtbot, tmp_path)
    yield window
    window.close()
    apply_theme("light")


def test_every_menu_has_its_actions_each_with_its_own_shortcut(window: MainWindow) -> None:
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Help"]
    actions = window.actions_with_shortcuts()
    assert len(actions) >= 20
    shortcuts = [a.shortcut().toString() for a in actions]
    assert all(shortcuts), [a.text() for a in actions if a.shortcut().isEmpty()]
    assert len(set(shortcuts)) == len(shortcuts)  # no two actions fight over a key
    window.tab_actions[2].trigger()
    assert window.tabs.currentWidget() is window.models_tab
    window.settings_action.trigger()
    assert window.tabs.currentWidget() is window.settings_tab
    about = window.show_about()
    assert "Voxtune" in about.text()
    about.close()


def test_the_theme_switch_recolours_the_app_and_is_remembered(
    window: MainWindow, tmp_path: Path
) -> None:
    app = QApplication.instance()
    window.theme_actions["dark"].trigger()
    assert app.palette().color(QPalette.ColorRole.Window).lightness() < 80
    assert window.theme_actions["dark"].isChecked()
    assert load_settings(open_qsettings(tmp_path / "settings.ini")).theme == "dark"
    window.theme_actions["light"].trigger()
    assert app.palette().color(QPalette.ColorRole.Window).lightness() > 180
    window.theme_actions["system"].trigger()
    dark = QGuiApplication.styleHints().colorScheme().name == "Dark"
    assert (app.palette().color(QPalette.ColorRole.Window).lightness() < 80) == dark
    assert load_settings(open_qsettings(tmp_path / "settings.ini")).theme == "system"


def test_the_window_comes_back_where_and_as_large_as_it_was(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.resize(700, 520)  # inside the offscreen screen (800×600)
    qtbot.waitUntil(lambda: window.width() == 700)
    window.close()
    again = make_window(qtbot, tmp_path)
    try:
        assert (again.width(), again.height()) == (700, 520)
    finally:
        again.close()
