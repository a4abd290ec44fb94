"""The app's log: what the engine reports (warnings, errors, tracebacks) and engine deaths.

Every ``Log`` event, ``EngineError`` and death the bridge signals is kept here twice: the last
``KEEP_LINES`` lines in memory for the "Show log" dialog, and a rotating file under Voxtune's
home (``logs/voxtune.log``, ``BACKUPS`` older files of ``MAX_BYTES`` each) for after the fact.
"""

from __future__ import annotations

import logging
import logging.handlers
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QVBoxLayout, QWidget

LOG_FILE = "voxtune.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
KEEP_LINES = 2000
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


class EngineLog(QObject):
    appended = Signal(str)  # the lines just added, as one text

    def __init__(self, folder: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOG_FILE
        self.lines: deque[str] = deque(maxlen=KEEP_LINES)
        # A logger of our own (not propagated): the file gets the engine's records only.
        self._logger = logging.getLogger(f"voxtune.app-log.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.DEBUG)
        self._handler = logging.handlers.RotatingFileHandler(
            self.path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self._logger.addHandler(self._handler)

    def append(self, level: str, message: str) -> None:
        self._logger.log(LEVELS.get(level, logging.ERROR), "engine: %s", message)
        self._handler.flush()
        stamp = time.strftime("%H:%M:%S")
        text = f"{stamp} {level.upper()} {message}"
        self.lines.extend(text.splitlines())
        self.appended.emit(text)

    def text(self) -> str:
        return "\n".join(self.lines)

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._handler.close()


class LogDialog(QDialog):
    """The recent log lines, following new ones while open; the file's path at the top."""

    def __init__(self, log: EngineLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Voxtune log")
        self.resize(820, 480)
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setPlainText(log.text() or "Nothing logged yet.")
        self.view.setToolTip(f"Also written to {log.path}")
        log.appended.connect(self.view.appendPlainText)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
