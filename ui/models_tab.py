"""Models tab: what is installed, import a folder, pull from the Hub, choose the default.

Importing and pulling run ``voxtune models …`` in a child process (QProcess): they need
torch, which the UI process never imports, and the window stays responsive meanwhile.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QProcess
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine.models.info import ModelInfo
from voxtune.engine.models.registry import list_models
from voxtune.ui.settings import UiSettings

HEADERS = ("Name", "Family", "Languages", "Size", "Source", "Default")


def languages_text(languages: tuple[str, ...]) -> str:
    return ", ".join(languages) if len(languages) <= 3 else f"{len(languages)} languages"


def size_text(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:.0f} MB" if size_bytes else "not imported yet"


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class ModelsTab(QWidget):
    def __init__(
        self,
        settings: Callable[[], UiSettings],
        on_settings: Callable[[UiSettings], None],
        lister: Callable[[], list[ModelInfo]] = list_models,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._on_settings = on_settings
        self._lister = lister
        self.models: list[ModelInfo] = []
        self.process: QProcess | None = None

        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

        self.default_button = QPushButton("Use as default")
        self.default_button.clicked.connect(self.use_selected)
        self.import_button = QPushButton("Import folder…")
        self.import_button.setToolTip("A CTranslate2 or Hugging Face Whisper directory")
        self.import_button.clicked.connect(self.choose_import)
        self.hub_edit = QLineEdit()
        self.hub_edit.setPlaceholderText("Hub id, e.g. openai/whisper-small")
        self.pull_button = QPushButton("Pull")
        self.pull_button.clicked.connect(lambda: self.pull(self.hub_edit.text().strip()))
        row = QHBoxLayout()
        row.addWidget(self.default_button)
        row.addWidget(self.import_button)
        row.addSpacing(12)
        row.addWidget(self.hub_edit, 1)
        row.addWidget(self.pull_button)

        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # the Hub gives no total up front: an indeterminate bar
        self.busy.hide()
        self.message = QLabel("")
        self.message.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.busy)
        layout.addWidget(self.message)
        self.refresh()

    def refresh(self) -> None:
        self.models = self._lister()
        default = self._settings().model
        self.table.setRowCount(len(self.models))
        for row, info in enumerate(self.models):
            cells = (
                info.name,
                info.family,
                languages_text(info.languages),
                size_text(info.size_bytes),
                info.source,
                "✓" if info.name == default else "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 2:
                    item.setToolTip(", ".join(info.languages))
                self.table.setItem(row, column, item)

    def use_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.use_model(self.models[rows[0].row()].name)

    def use_model(self, name: str) -> None:
        self._on_settings(replace(self._settings(), model=name))
        self.message.setText(f"New jobs use {name}.")
        self.refresh()

    def choose_import(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a model folder")
        if folder:
            self.import_folder(folder)

    def import_folder(self, folder: str) -> None:
        self._run_cli(["import", folder], f"Importing {folder}…")

    def pull(self, hub_id: str) -> None:
        if not hub_id:
            self.message.setText("Type a Hub id first, e.g. openai/whisper-small.")
            return
        self._run_cli(["pull", hub_id], f"Pulling {hub_id} from the Hugging Face Hub…")

    def _run_cli(self, arguments: list[str], doing: str) -> None:
        if self.process is not None:
            self.message.setText("Wait for the current import or pull to finish.")
            return
        process = QProcess(self)
        process.setProgram(sys.executable)
        process.setArguments(["-m", "voxtune.app", "models", *arguments])
        process.finished.connect(self._finished)
        self.process = process
        self.busy.show()
        self.message.setText(doing)
        for button in (self.import_button, self.pull_button):
            button.setEnabled(False)
        process.start()

    def _finished(self, exit_code: int, _status: QProcess.ExitStatus) -> None:
        process, self.process = self.process, None
        assert process is not None
        errors = bytes(process.readAllStandardError().data()).decode(errors="replace")
        output = bytes(process.readAllStandardOutput().data()).decode(errors="replace")
        self.busy.hide()
        for button in (self.import_button, self.pull_button):
            button.setEnabled(True)
        if exit_code == 0:
            self.message.setText(last_line(output) or "Done.")
            self.refresh()
        else:
            self.message.setText(last_line(errors) or f"failed (exit code {exit_code})")
        process.deleteLater()
