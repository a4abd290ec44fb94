"""The desktop entry, the icon and the ``voxtune gui`` entry point, as a desktop installs them."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QPixmap
from pytestqt.qtbot import QtBot

from voxtune.ui.app import app_icon

REPO = Path(__file__).resolve().parents[1]


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(REPO / "packaging" / "voxtune.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_runs_the_gui_with_dropped_files() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application" and entry["Name"] == "Voxtune"
    assert entry["Exec"] == "voxtune gui %F" and entry["Terminal"] == "false"
    assert entry["Icon"] == "voxtune"
    assert entry["Categories"].endswith(";") and "audio/ogg" in entry["MimeType"]


def test_icons_ship_in_the_assets_package_and_load(qtbot: QtBot) -> None:
    assets = resources.files("voxtune.assets")
    for name in ("voxtune.svg", "voxtune.png"):
        pixmap = QPixmap(str(assets / name))
        assert not pixmap.isNull(), name
    assert not app_icon().pixmap(64, 64).isNull()


def test_install_script_puts_entry_and_icons_under_xdg_data_home(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    script = REPO / "packaging" / "install-desktop-entry.sh"
    subprocess.run(["sh", str(script)], check=True, env=env, capture_output=True)
    installed = tmp_path / "applications" / "voxtune.desktop"
    assert installed.read_bytes() == (REPO / "packaging" / "voxtune.desktop").read_bytes()
    assert (tmp_path / "icons/hicolor/scalable/apps/voxtune.svg").is_file()
    assert (tmp_path / "icons/hicolor/256x256/apps/voxtune.png").is_file()


def test_gui_is_a_voxtune_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voxtune.app", "gui", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage: voxtune gui [-h] [FILE ...]" in done.stdout
