"""Where Voxtune keeps its own state: re-exported from ``voxtune.engine.home``.

The engine owns the folder layout (it writes models and the job store there); the app's
callers keep their import.
"""

from voxtune.engine.home import (
    APP_NAME,
    HOME_ENV,
    home,
    jobs_db,
    logs_dir,
    models_dir,
    settings_file,
)

__all__ = ["APP_NAME", "HOME_ENV", "home", "jobs_db", "logs_dir", "models_dir", "settings_file"]
