"""The main window: engine banner, tabs, menu bar with a shortcut for every action, drops.

Settings, the theme and the window's geometry are kept in QSettings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine import protocol as p
from voxtune.engine.home import logs_dir
from voxtune.ui.banner import EngineBanner
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.dictation import Dictation
from voxtune.ui.editor_window import TranscriptEditor
from voxtune.ui.engine_log import EngineLog, LogDialog
from voxtune.ui.files_tab import FilesTab
from voxtune.ui.live_tab import LiveTab
from voxtune.ui.models_tab import ModelsTab
from voxtune.ui.settings import UiSettings, load_settings, save_settings
from voxtune.ui.settings_tab import SettingsTab
from voxtune.ui.theme import THEMES, apply_theme
from voxtune.ui.tune_tab import TuneTab

GEOMETRY_KEY = "window/geometry"  # beside the settings, not one of them: not a user choice


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
        geometry = store.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
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
        self.tune_tab = TuneTab(bridge, self.current_settings, self.change_settings)
        self.settings_tab = SettingsTab(self.current_settings, self.change_settings, gpu_available)
        self.tabs = QTabWidget()
        for widget, title in (
            (self.files_tab, "Files"),
            (self.live_tab, "Live"),
            (self.models_tab, "Models"),
            (self.tune_tab, "Tune"),
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
        self._build_menus()
        self.apply_theme(self.settings.theme)

        self.dictation = Dictation(self.live_tab, parent=self)
        self._set_hotkey(self.settings.hotkey)
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

    # -- menus ----------------------------------------------------------------------------

    def _action(self, menu: QMenu, text: str, shortcut: str | QKeySequence, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.addAction(action)  # the shortcut works while the menu bar is hidden, too
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        files, live, models = self.files_tab, self.live_tab, self.models_tab
        file_menu = bar.addMenu("&File")
        self.add_action = self._action(
            file_menu, "&Add files…", QKeySequence.StandardKey.Open, files.choose_files
        )
        self.edit_action = self._action(
            file_menu, "&Edit transcript", "Ctrl+E", files.edit_selected
        )
        self.open_action = self._action(
            file_menu, "&Open output", "Ctrl+Shift+O", files.open_output
        )
        self.save_live_action = self._action(
            file_menu, "&Save live transcript…", "Ctrl+S", live.choose_save
        )
        file_menu.addSeparator()
        self.clear_jobs_action = self._action(
            file_menu, "&Clear finished jobs", "Ctrl+Shift+Del", self.bridge.clear_jobs
        )
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", "Ctrl+Q", self.close)

        edit_menu = bar.addMenu("&Edit")
        self.cancel_action = self._action(edit_menu, "&Cancel job", "Ctrl+.", files.cancel_selected)
        self.retry_action = self._action(edit_menu, "&Retry job", "Ctrl+R", files.retry_selected)
        edit_menu.addSeparator()
        self.import_action = self._action(
            edit_menu, "&Import model folder…", "Ctrl+I", models.choose_import
        )
        self.remove_model_action = self._action(
            edit_menu, "Re&move selected model", "Ctrl+Shift+M", models.remove_selected
        )
        self.default_model_action = self._action(
            edit_menu, "&Use selected model by default", "Ctrl+Shift+U", models.use_selected
        )
        edit_menu.addSeparator()
        self.settings_action = self._action(
            edit_menu, "&Settings", "Ctrl+,", lambda: self.tabs.setCurrentWidget(self.settings_tab)
        )

        view_menu = bar.addMenu("&View")
        self.tab_actions = [
            self._action(view_menu, f"&{title}", f"Ctrl+{n}", lambda w=widget: self.show_tab(w))
            for n, (widget, title) in enumerate(
                (
                    (files, "Files"),
                    (live, "Live"),
                    (models, "Models"),
                    (self.tune_tab, "Tune"),
                    (self.settings_tab, "Settings"),
                ),
                start=1,
            )
        ]
        self.listen_action = self._action(
            view_menu, "Start/stop &listening", "Ctrl+Space", live.toggle
        )
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for n, theme in enumerate(THEMES, start=1):
            action = self._action(
                theme_menu,
                theme.capitalize(),
                f"Ctrl+Shift+{n}",
                lambda t=theme: self.choose_theme(t),
            )
            action.setCheckable(True)
            group.addAction(action)
            self.theme_actions[theme] = action
        view_menu.addSeparator()
        self.log_action = self._action(view_menu, "Show &log", "Ctrl+L", self.show_log)
        self.log_action.setToolTip(f"Engine warnings and errors (also in {self.log.path})")

        help_menu = bar.addMenu("&Help")
        self.about_action = self._action(help_menu, "&About Voxtune", "F1", self.show_about)

    def actions_with_shortcuts(self) -> list[QAction]:
        return [a for menu in self.menuBar().findChildren(QMenu) for a in menu.actions()
                if not a.isSeparator() and a.menu() is None]  # fmt: skip

    def show_tab(self, widget: QWidget) -> None:
        self.tabs.setCurrentWidget(widget)

    def choose_theme(self, theme: str) -> None:
        self.change_settings(replace(self.settings, theme=theme))

    def apply_theme(self, theme: str) -> bool:
        self.theme_actions[theme].setChecked(True)
        return apply_theme(theme, QApplication.instance())  # type: ignore[arg-type]

    def show_about(self) -> QMessageBox:
        from importlib.metadata import PackageNotFoundError, version

        try:
            release = version("voxtune")
        except PackageNotFoundError:
            release = "development"
        box = QMessageBox(QMessageBox.Icon.Information, "About Voxtune", "", parent=self)
        box.setText(
            f"<b>Voxtune</b> {release}<br>Local speech transcription, live dictation and ASR "
            "tuning. Audio never leaves this machine."
        )
        box.setInformativeText(f"Engine log: {self.log.path}")
        box.open()
        return box

    # -- settings -------------------------------------------------------------------------

    def current_settings(self) -> UiSettings:
        return self.settings

    def change_settings(self, settings: UiSettings) -> None:
        if settings == self.settings:
            return
        device_changed = settings.device != self.settings.device
        cluster_changed = settings.cluster != self.settings.cluster
        backend_changed = settings.backend != self.settings.backend
        theme_changed = settings.theme != self.settings.theme
        hotkey_changed = settings.hotkey != self.settings.hotkey
        self.settings = settings
        save_settings(self.store, settings)
        self.files_tab.load_settings(settings)
        self.settings_tab.load(settings)
        if theme_changed:
            self.apply_theme(settings.theme)
        if hotkey_changed:
            self._set_hotkey(settings.hotkey)
        if device_changed or backend_changed or cluster_changed:
            self.bridge.set_engine(settings.device, settings.backend)
            self.bridge.set_cluster(settings.cluster)
            self.bridge.restart()

    def _set_hotkey(self, combination: str) -> None:
        if trouble := self.dictation.set_hotkey(combination):
            self.statusBar().showMessage(f"Dictation hotkey off: {trouble}", 10000)

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
        if (old := self.editors.get(opened.job_id)) is not None:
            old.close()  # a new live session's transcript replaces the last one's
        editor = TranscriptEditor(self.bridge, opened, live_target=self.live_tab.live_target())
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
        self.store.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.store.sync()
        for editor in self.editors.values():
            editor.close()
        self.dictation.stop()
        self.bridge.stop()
        self.log.close()
        super().closeEvent(event)
