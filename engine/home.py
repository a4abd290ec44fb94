"""Where Voxtune keeps its own state (``voxtune.app.paths`` re-exports it).

Everything Voxtune writes for itself (model cache, job database, settings, logs) lives under
one folder: the platform's user data folder, or ``$VOXTUNE_HOME`` when set (tests set it).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "voxtune"
HOME_ENV = "VOXTUNE_HOME"


def home() -> Path:
    override = os.environ.get(HOME_ENV)
    root = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))
    root.mkdir(parents=True, exist_ok=True)
    return root


def _subdir(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Imported and downloaded models, one folder each."""
    return _subdir("models")


def logs_dir() -> Path:
    return _subdir("logs")


def jobs_db() -> Path:
    """The SQLite job store."""
    return home() / "jobs.sqlite3"


def settings_file() -> Path:
    return home() / "settings.ini"
