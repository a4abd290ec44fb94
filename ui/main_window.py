"""The main window: engine banner, four tabs, drops and Ctrl+O, settings kept in QSettings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from voxtune.engine import protocol as p
from voxtune.engine.home import logs_dir
from voxtune.ui.banner import EngineBanner
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.editor_window import TranscriptEditor
from voxtune.ui.engine_log import EngineLog, LogDialog
from voxtune.ui.files_tab import FilesTab
from voxtune.ui.live_tab import LiveTab
from voxtune.ui.models_tab import ModelsTab
from voxtune.ui.settings import UiSettings, load_settings, save_settings
from voxtune.ui.settings_tab import SettingsTab


class MainWindow(QMainWindow):
    def __init__(
        self,
        bridge: EngineBridge,
        store: QSettings,
        *,
        gpu_available: bool = False,
        log_folder: Path | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Voxtune")
        self.resize(980, 640)
        self.setAcceptDrops(True)
        self.bridge = bridge
        self.store = store
        self.settings = load_settings(store)
        self.log = EngineLog(log_folder or logs_dir(), self)
        self.log_dialog: LogDialog | None = None
        bridge.log_message.connect(self.log.append)

        self.banner = EngineBanner()
        self.files_tab = FilesTab(bridge, self.current_settings, self.change_settings)
        self.live_tab = LiveTab(bridge, self.current_settings)
        self.models_tab = ModelsTab(bridge, self.current_settings, self.change_settings)
        self.settings_tab = SettingsTab(self.current_settings, self.change_settings, gpu_available)
        self.tabs = QTabWidget()
        for widget, title in (
            (self.files_tab, "Files"),
            (self.live_tab, "Live"),
            (self.models_tab, "Models"),
            (self.settings_tab, "Settings"),
        ):
            self.tabs.addTab(widget, title)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.engine_label = QLabel("Engine starting…")
        self.statusBar().addPermanentWidget(self.engine_label)
        open_action = QAction("Add files…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.files_tab.choose_files)
        self.addAction(open_action)
        log_action = QAction("Show log", self)
        log_action.setShortcut(QKeySequence("Ctrl+L"))
        log_action.setToolTip(f"Engine warnings and errors (also in {self.log.path})")
        log_action.triggered.connect(self.show_log)
        self.menuBar().addMenu("&View").addAction(log_action)
        self.log_action = log_action

        self.editors: dict[int, TranscriptEditor] = {}  # job id → its open editor
        self.files_tab.edit_requested.connect(self.open_editor)
        bridge.transcript_opened.connect(self._show_editor)

        bridge.models_listed.connect(self._know_models)
        bridge.models_changed.connect(lambda models, *_: self._know_models(models))
        bridge.engine_ready.connect(self._on_ready)
        bridge.engine_died.connect(self._on_died)
        bridge.engine_restarted.connect(self.banner.show_restarted)
        bridge.engine_gave_up.connect(self.banner.show_error)
        bridge.engine_error.connect(lambda message: self.statusBar().showMessage(message, 10000))

    # -- settings -------------------------------------------------------------------------

    def current_settings(self) -> UiSettings:
        return self.settings

    def change_settings(self, settings: UiSettings) -> None:
        if settings == self.settings:
            return
        device_changed = settings.device != self.settings.device
        self.settings = settings
        save_settings(self.store, settings)
        self.files_tab.load_settings(settings)
        self.settings_tab.load(settings)
        if device_changed:
            self.bridge.set_device(settings.device)
            self.bridge.restart()

    # -- engine ---------------------------------------------------------------------------

    def _know_models(self, models: tuple[p.ModelEntry, ...]) -> None:
        self.settings_tab.set_models(tuple(m.name for m in models))

    def show_log(self) -> LogDialog:
        if self.log_dialog is None:
            self.log_dialog = LogDialog(self.log, self)
        self.log_dialog.show()
        self.log_dialog.raise_()
        return self.log_dialog

    def _on_ready(self, pid: int) -> None:
        self.engine_label.setText(f"Engine ready (pid {pid}, {self.settings.device.upper()})")
        self.bridge.refresh_jobs()

    def _on_died(self, reason: str, job_ids: tuple[int, ...]) -> None:
        self.engine_label.setText("Engine restarting…")
        self.banner.show_death(reason, job_ids)

    # -- the transcript editor ------------------------------------------------------------

    def open_editor(self, job_id: int) -> None:
        """Bring up the job's editor, asking the engine for its transcript the first time."""
        editor = self.editors.get(job_id)
        if editor is not None and editor.isVisible():
            editor.raise_()
            editor.activateWindow()
            return
        self.bridge.open_transcript(job_id)

    def _show_editor(self, opened: p.TranscriptOpened) -> None:
        editor = TranscriptEditor(self.bridge, opened)
        self.editors[opened.job_id] = editor
        editor.show()

    # -- drops ----------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.tabs.setCurrentWidget(self.files_tab)
            self.files_tab.add_paths(paths)

    def closeEvent(self, event: QCloseEvent) -> None:
        save_settings(self.store, self.settings)
        for editor in self.editors.values():
            editor.close()
        self.bridge.stop()
        self.log.close()
        super().closeEvent(event)
