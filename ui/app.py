"""``voxtune gui``: the application object, the engine bridge and the main window."""

from __future__ import annotations

import shutil
import sys
from importlib import resources

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from voxtune.engine.config import EngineConfig
from voxtune.engine.home import jobs_db
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.main_window import MainWindow
from voxtune.ui.settings import load_settings, open_qsettings


def app_icon() -> QIcon:
    return QIcon(str(resources.files("voxtune.assets") / "voxtune.svg"))


def gpu_available() -> bool:
    # Asking torch would import it here; the NVIDIA tool answers without it.
    return shutil.which("nvidia-smi") is not None


def build_window(app: QApplication) -> MainWindow:
    app.setApplicationName("Voxtune")
    app.setWindowIcon(app_icon())
    store = open_qsettings()
    settings = load_settings(store)
    config = EngineConfig(
        db_path=str(jobs_db()),
        device=settings.device,
        backend=settings.backend,
        cluster=settings.cluster or None,
    )
    bridge = EngineBridge(config)
    window = MainWindow(bridge, store, gpu_available=gpu_available())
    bridge.start()
    return window


def main(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    window = build_window(app)  # type: ignore[arg-type]
    window.show()
    return app.exec()
