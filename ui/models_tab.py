"""Models tab: what is installed, import a folder, pull from the Hub, remove, choose the default.

Everything goes through the engine (protocol commands on the bridge): it lists the models,
imports and pulls on a worker with byte progress ("12.0 MB of 17.9 MB"), stops a pull on
Cancel, and answers with ``ModelsChanged`` the moment the files are in place (or gone), so
the table updates then — no child process, no CLI text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

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

from voxtune.engine import protocol as p
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.settings import UiSettings

HEADERS = ("Name", "Family", "Languages", "Size", "Source", "Default")


def languages_text(languages: tuple[str, ...]) -> str:
    return ", ".join(languages) if len(languages) <= 3 else f"{len(languages)} languages"


def size_text(entry: p.ModelEntry) -> str:
    """What is on disk, or what it takes to get there (the words the CLI uses)."""
    if entry.size_bytes:
        return f"{entry.size_bytes / 1e6:.0f} MB"
    if entry.download_bytes:
        return f"not downloaded ({entry.download_bytes / 1e9:.1f} GB)"
    if entry.source == "embedded":
        return "embedded (imported on first use)"
    return "not imported yet"


def bytes_text(progress: p.ModelProgress) -> str:
    """ "12.0 MB of 17.9 MB (67%)", or "12.0 MB so far…" while the total is not known."""
    done = progress.done_bytes / 1e6
    if not progress.total_bytes:
        return f"{done:.1f} MB so far…"
    share = min(100, 100 * progress.done_bytes // progress.total_bytes)  # as the bar rounds
    return f"{done:.1f} MB of {progress.total_bytes / 1e6:.1f} MB ({share}%)"


class ModelsTab(QWidget):
    def __init__(
        self,
        bridge: EngineBridge,
        settings: Callable[[], UiSettings],
        on_settings: Callable[[UiSettings], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._settings = settings
        self._on_settings = on_settings
        self.models: tuple[p.ModelEntry, ...] = ()
        self.task: int | None = None  # seq of the running import or pull

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
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Delete an imported or downloaded model (the built-ins stay)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.import_button = QPushButton("Import folder…")
        self.import_button.setToolTip("A CTranslate2 Whisper or a Qwen3-ASR directory")
        self.import_button.clicked.connect(self.choose_import)
        self.hub_edit = QLineEdit()
        self.hub_edit.setPlaceholderText("Hub id, e.g. openai/whisper-small")
        self.pull_button = QPushButton("Pull")
        self.pull_button.clicked.connect(lambda: self.pull(self.hub_edit.text().strip()))
        row = QHBoxLayout()
        row.addWidget(self.default_button)
        row.addWidget(self.remove_button)
        row.addWidget(self.import_button)
        row.addSpacing(12)
        row.addWidget(self.hub_edit, 1)
        row.addWidget(self.pull_button)

        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate until a total is known
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download and delete what it fetched")
        self.cancel_button.clicked.connect(self.cancel)
        self.pulling = False  # the running task is a pull (only a pull can be cancelled)
        progress = QHBoxLayout()
        progress.addWidget(self.busy, 1)
        progress.addWidget(self.cancel_button)
        self.busy.hide()
        self.cancel_button.hide()
        self.message = QLabel("")
        self.message.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addLayout(progress)
        layout.addWidget(self.message)

        bridge.models_listed.connect(self.show_models)
        bridge.models_changed.connect(self._on_changed)
        bridge.model_progress.connect(self._on_progress)
        bridge.event_received.connect(self._on_event)
        bridge.engine_ready.connect(lambda _pid: self.refresh())
        bridge.engine_died.connect(lambda *_: self._task_over())

    def refresh(self) -> None:
        self.bridge.list_models()

    def show_models(self, models: tuple[p.ModelEntry, ...]) -> None:
        self.models = models
        default = self._settings().model
        self.table.setRowCount(len(models))
        for row, info in enumerate(models):
            cells = (
                info.name,
                info.family,
                languages_text(info.languages),
                size_text(info),
                info.source,
                "✓" if info.name == default else "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 2:
                    item.setToolTip(", ".join(info.languages))
                self.table.setItem(row, column, item)

    def selected(self) -> p.ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows else None

    def use_selected(self) -> None:
        if (entry := self.selected()) is not None:
            self.use_model(entry.name)

    def use_model(self, name: str) -> None:
        self._on_settings(replace(self._settings(), model=name))
        self.message.setText(f"New jobs use {name}.")
        self.show_models(self.models)

    def remove_selected(self) -> None:
        if (entry := self.selected()) is not None:
            self.remove(entry.name)

    def remove(self, name: str) -> None:
        self._start(self.bridge.remove_model(name), f"Removing {name}…")

    def choose_import(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a model folder")
        if folder:
            self.import_folder(folder)

    def import_folder(self, folder: str) -> None:
        self._start(self.bridge.import_model(folder), f"Importing {folder}…")

    def pull(self, hub_id: str) -> None:
        if not hub_id:
            self.message.setText("Type a Hub id first, e.g. openai/whisper-small.")
            return
        if self._start(self.bridge.pull_model(hub_id), f"Pulling {hub_id} from the Hub…"):
            self.pulling = True
            self.cancel_button.setEnabled(True)
            self.cancel_button.show()

    def cancel(self) -> None:
        """Stop the running pull; the engine deletes its partial files and says "cancelled"."""
        if self.task is None or not self.pulling:
            return
        self.bridge.cancel_model_task(self.task)
        self.cancel_button.setEnabled(False)
        self.message.setText("Cancelling…")

    def _start(self, seq: int | None, doing: str) -> bool:
        if self.task is not None:
            self.message.setText("Wait for the current import or pull to finish.")
            return False
        if seq is None:
            return False  # the engine is not running; the banner says so
        self.task = seq
        self.busy.setRange(0, 0)
        self.busy.show()
        self.message.setText(doing)
        for button in (self.import_button, self.pull_button, self.remove_button):
            button.setEnabled(False)
        return True

    def _task_over(self) -> None:
        self.task = None
        self.pulling = False
        self.busy.hide()
        self.cancel_button.hide()
        for button in (self.import_button, self.pull_button, self.remove_button):
            button.setEnabled(True)

    def _on_progress(self, progress: p.ModelProgress) -> None:
        if progress.reply_to != self.task:
            return
        if self.pulling and not self.cancel_button.isEnabled():
            return  # cancelling: keep saying so
        self.message.setText(f"{progress.name}: {bytes_text(progress)}")
        if progress.total_bytes:
            self.busy.setRange(0, 1000)
            self.busy.setValue(min(1000, 1000 * progress.done_bytes // progress.total_bytes))

    def _on_changed(self, models: tuple[p.ModelEntry, ...], name: str, action: str) -> None:
        self._task_over()
        self.message.setText(f"{name}: {action}.")
        self.show_models(models)

    def _on_event(self, event: p.Event) -> None:
        if isinstance(event, p.EngineError) and self.task and event.reply_to == self.task:
            self._task_over()
            self.message.setText(event.message)
