"""Settings tab: model, language, beam size, device, output folder, subtitle line rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from voxtune.ui.settings import DEVICES, UiSettings

LANGUAGES = ("", "en", "de", "fr", "es", "pt", "it", "nl", "ja", "zh")


class SettingsTab(QWidget):
    def __init__(
        self,
        settings: Callable[[], UiSettings],
        on_settings: Callable[[UiSettings], None],
        gpu_available: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._on_settings = on_settings

        self.model_edit = QLineEdit()
        self.language_box = QComboBox()
        self.language_box.setEditable(True)
        for code in LANGUAGES:
            self.language_box.addItem(code or "detect", code)
        self.beam_spin = QSpinBox()
        self.beam_spin.setRange(1, 5)
        self.device_box = QComboBox()
        for device in DEVICES:
            self.device_box.addItem(device.upper() if device == "cpu" else "GPU (CUDA)", device)
        if not gpu_available:
            self.device_box.model().item(1).setEnabled(False)
            self.device_box.setToolTip("No GPU found on this machine")
        self.output_edit = QLineEdit()
        self.chars_spin = QSpinBox()
        self.chars_spin.setRange(10, 120)
        self.lines_spin = QSpinBox()
        self.lines_spin.setRange(1, 4)

        for narrow in (
            self.language_box, self.beam_spin, self.device_box, self.chars_spin, self.lines_spin
        ):  # fmt: skip
            narrow.setMaximumWidth(200)
        form = QFormLayout()
        form.addRow("Model:", self.model_edit)
        form.addRow("Language:", self.language_box)
        form.addRow("Beam size:", self.beam_spin)
        form.addRow("Device:", self.device_box)
        form.addRow("Output folder:", self.output_edit)
        form.addRow("Subtitle characters per line:", self.chars_spin)
        form.addRow("Subtitle lines per cue:", self.lines_spin)

        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self.apply)
        self.note = QLabel("Changing the device restarts the engine.")
        buttons = QHBoxLayout()
        buttons.addWidget(self.note, 1)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.load(settings())

    def load(self, settings: UiSettings) -> None:
        self.model_edit.setText(settings.model)
        index = self.language_box.findData(settings.language)
        if index >= 0:
            self.language_box.setCurrentIndex(index)
        else:
            self.language_box.setEditText(settings.language)
        self.beam_spin.setValue(settings.beam_size)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(settings.device)))
        self.output_edit.setText(settings.output_dir)
        self.chars_spin.setValue(settings.max_line_chars)
        self.lines_spin.setValue(settings.max_lines)

    def chosen(self) -> UiSettings:
        text = self.language_box.currentText().strip()
        language = "" if text in ("", "detect") else text
        return replace(
            self._settings(),
            model=self.model_edit.text().strip() or self._settings().model,
            language=language,
            beam_size=self.beam_spin.value(),
            device=self.device_box.currentData(),
            output_dir=self.output_edit.text().strip() or self._settings().output_dir,
            max_line_chars=self.chars_spin.value(),
            max_lines=self.lines_spin.value(),
        )

    def apply(self) -> None:
        self._on_settings(self.chosen())
