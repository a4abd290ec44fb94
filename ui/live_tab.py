"""Live tab: pick a microphone or a file, start/stop (Space), watch words arrive, keep them.

The engine lists the input devices (and says when the list changes), plays a chosen file as
if it were the microphone (at 1×, 2×, 4× or as fast as it decodes), and writes the saved
transcript; this tab only shows them. When a session stops with words, its transcript opens
in the transcript editor (``open_editor_box``), where it is corrected and exported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine import protocol as p
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.confidence import ConfidenceLegend
from voxtune.ui.editor_window import LiveTarget
from voxtune.ui.settings import UiSettings
from voxtune.ui.transcript_view import TranscriptView

SAVE_FILTERS = {
    "Text (*.txt)": "txt",
    "Subtitles (*.srt)": "srt",
    "JSON with words (*.json)": "json",
}
FLOOR_DBFS = -60  # the meter's left end; quieter is shown as silence
SPEEDS = {"1× (real time)": 1.0, "2×": 2.0, "4×": 4.0, "As fast as it decodes": None}
AUDIO_FILTER = "Audio and video (*.wav *.flac *.ogg *.opus *.mp3 *.m4a *.mp4 *.mkv *.webm);;All (*)"


def save_format(path: Path) -> str | None:
    """The format a save path's suffix asks for, or None when it is not one we write."""
    fmt = path.suffix.lower().lstrip(".")
    return fmt if fmt in SAVE_FILTERS.values() else None


class LiveTab(QWidget):
    def __init__(
        self,
        bridge: EngineBridge,
        settings: Callable[[], UiSettings],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._settings = settings
        self.running = False

        self.device_box = QComboBox()
        self.device_box.setMinimumContentsLength(24)
        self.show_devices((), None)
        self.meter = QProgressBar()
        self.meter.setRange(FLOOR_DBFS, 0)
        self.meter.setValue(FLOOR_DBFS)
        self.meter.setFormat("%v dBFS")
        self.meter.setToolTip("Input level")
        self.meter.setMaximumWidth(180)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start or stop listening (Space)")
        self.start_button.clicked.connect(self.toggle)
        top = QHBoxLayout()
        top.addWidget(QLabel("Microphone:"))
        top.addWidget(self.device_box, 1)
        top.addWidget(QLabel("Level:"))
        top.addWidget(self.meter)
        top.addWidget(self.start_button)

        self.file: Path | None = None  # a file played as the microphone instead of a device
        self.file_label = QLabel("")
        self.file_button = QPushButton("From a file…")
        self.file_button.setToolTip("Transcribe a file as if it were being spoken")
        self.file_button.clicked.connect(self.choose_file)
        self.mic_button = QPushButton("Use the microphone")
        self.mic_button.clicked.connect(lambda: self.use_file(None))
        self.speed_box = QComboBox()
        for text, speed in SPEEDS.items():
            self.speed_box.addItem(text, speed)
        self.speed_box.setToolTip("How fast the file is played to the transcriber")
        self.open_editor_box = QCheckBox("Open in the editor when stopped")
        self.open_editor_box.setChecked(True)
        source = QHBoxLayout()
        source.addWidget(self.file_button)
        source.addWidget(self.mic_button)
        source.addWidget(self.file_label, 1)
        source.addWidget(QLabel("Speed:"))
        source.addWidget(self.speed_box)
        source.addWidget(self.open_editor_box)
        self.use_file(None)

        self.view = TranscriptView()
        self.legend = ConfidenceLegend()
        self.status = QLabel("Stopped.")
        copy_button = QPushButton("Copy")
        clear_button = QPushButton("Clear")
        save_button = QPushButton("Save…")
        copy_button.clicked.connect(self.copy)
        clear_button.clicked.connect(self.clear)
        save_button.clicked.connect(self.choose_save)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        for button in (copy_button, clear_button, save_button):
            bottom.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(source)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.legend)
        layout.addLayout(bottom)

        self.space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        self.space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.space.activated.connect(self.toggle)
        bridge.live_started.connect(self.on_started)
        bridge.live_update.connect(self.view.apply_update)
        bridge.live_level.connect(self.set_level)
        bridge.live_stopped.connect(self.on_stopped)
        bridge.engine_died.connect(lambda reason, _ids: self.on_stopped(reason))
        bridge.engine_error.connect(self._on_engine_error)
        bridge.devices_listed.connect(self.show_devices)
        bridge.engine_ready.connect(lambda _pid: self.refresh_devices())
        bridge.live_saved.connect(self._on_saved)
        self._starting = False
        self._heard_words = False  # this session committed words: worth opening in the editor
        self.dictating = False  # a hotkey session (ui/dictation.py): its words went elsewhere
        bridge.live_update.connect(self._on_words)
        self.target = LiveTarget(Path(self._settings().output_dir), "dictation")

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Transcribe a file live", "", AUDIO_FILTER)
        if name:
            self.use_file(Path(name))

    def use_file(self, path: Path | None) -> None:
        """Play ``path`` as the microphone from the next Start on; None: the microphone."""
        self.file = path
        self.file_label.setText(f"File: {path.name}" if path else "")
        self.file_label.setToolTip(str(path or ""))
        self.mic_button.setVisible(path is not None)
        self.speed_box.setEnabled(path is not None)
        self.device_box.setEnabled(path is None)

    def _lock_source(self, running: bool) -> None:
        """While a session runs, its source (device, file, speed) cannot change."""
        for widget in (self.file_button, self.mic_button):
            widget.setEnabled(not running)
        self.device_box.setEnabled(not running and self.file is None)
        self.speed_box.setEnabled(not running and self.file is not None)

    def live_target(self) -> LiveTarget:
        """Where this session's transcript is saved from the editor."""
        return self.target

    def _on_words(self, committed: tuple, _partial: tuple) -> None:
        self._heard_words = self._heard_words or bool(committed)

    def refresh_devices(self) -> None:
        """Ask the engine; it answers, then says again whenever the list changes."""
        self.bridge.list_devices()

    def show_devices(self, devices: tuple[p.InputDeviceEntry, ...], error: str | None) -> None:
        current = self.device_box.currentData()
        self.device_box.clear()
        self.device_box.addItem("System default", None)
        for device in devices:
            self.device_box.addItem(device.name, device.name)
        self.device_box.setToolTip(error or "")
        wanted = current or self._settings().input_device
        if wanted and (index := self.device_box.findData(wanted)) >= 0:
            self.device_box.setCurrentIndex(index)

    def clear(self) -> None:
        self.view.clear_words()
        self.bridge.clear_live()

    def toggle(self) -> None:
        if self.running:
            self.bridge.stop_live()
            self.status.setText("Stopping…")
            return
        settings = self._settings()
        self._starting = True  # an EngineError from here on is the engine refusing to start
        self._heard_words = False
        self.status.setText("Starting…")
        self._lock_source(True)
        stem = f"{self.file.stem}-live" if self.file else time.strftime("dictation-%Y%m%d-%H%M%S")
        self.target = LiveTarget(Path(settings.output_dir), stem, settings.subtitle_rules())
        sent = self.bridge.start_live(
            settings.model,
            settings.transcription_options(),
            self.device_box.currentData(),
            file=str(self.file) if self.file else None,
            speed=self.speed_box.currentData(),
        )
        if sent is not None:
            self.running = True
            self.start_button.setText("Stop")

    def _on_engine_error(self, message: str) -> None:
        if self._starting:  # the engine refused to start the stream
            self.on_stopped(message)

    def on_started(self, device: str) -> None:
        self._starting = False
        self.running = True
        self.start_button.setText("Stop")
        self.status.setText(f"Listening on {device}.")

    def on_stopped(self, error: str | None) -> None:
        self.running = self._starting = False
        self._lock_source(False)
        self.start_button.setText("Start")
        self.meter.setValue(FLOOR_DBFS)
        self.status.setText(f"Stopped: {error}" if error else "Stopped.")
        if self._heard_words and self.open_editor_box.isChecked() and not self.dictating:
            self.bridge.open_live()  # the main window shows it in the editor
        self._heard_words = self.dictating = False

    def set_level(self, dbfs: float) -> None:
        self.meter.setValue(max(FLOOR_DBFS, min(0, round(dbfs))))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.view.text())

    def choose_save(self) -> None:
        name, chosen = QFileDialog.getSaveFileName(
            self, "Save transcript", str(Path.home() / "dictation.txt"), ";;".join(SAVE_FILTERS)
        )
        if not name:
            return
        path = Path(name)
        if not path.suffix:
            path = path.with_suffix("." + SAVE_FILTERS.get(chosen, "txt"))
        self.save(path)

    def save(self, path: Path) -> int | None:
        """Ask the engine to write the transcript to ``path`` (its suffix picks the format)."""
        fmt = save_format(path)
        if fmt is None:
            self.status.setText(f"{path}: cannot save as '{path.suffix}' (use .txt, .srt or .json)")
            return None
        rules = self._settings().subtitle_rules()
        return self.bridge.save_live(str(path.parent), path.stem, (fmt,), rules)

    def _on_saved(self, paths: tuple[str, ...]) -> None:
        self.status.setText(f"Saved {', '.join(paths)}.")
