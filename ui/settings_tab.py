"""Settings tab: model, language, beam size, device, output folder, subtitle cue rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
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

MIN_LONGEST_CUE = 0.5  # seconds; the rules need a positive maximum
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
        self.min_duration_spin = _seconds_spin(0.0, 10.0)
        self.max_duration_spin = _seconds_spin(MIN_LONGEST_CUE, 30.0)
        # The rules need min <= max; the spin boxes keep it, so Apply never meets a refusal.
        self.min_duration_spin.valueChanged.connect(self._keep_durations_ordered)

        for narrow in (
            self.language_box, self.beam_spin, self.device_box, self.chars_spin, self.lines_spin,
            self.min_duration_spin, self.max_duration_spin,
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
        form.addRow("Shortest cue:", self.min_duration_spin)
        form.addRow("Longest cue:", self.max_duration_spin)

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
        self.max_duration_spin.setMinimum(MIN_LONGEST_CUE)  # a saved maximum is not clamped
        self.max_duration_spin.setValue(settings.max_duration)
        self.min_duration_spin.setValue(min(settings.min_duration, settings.max_duration))
        self._keep_durations_ordered(self.min_duration_spin.value())

    def _keep_durations_ordered(self, shortest: float) -> None:
        self.max_duration_spin.setMinimum(max(MIN_LONGEST_CUE, shortest))

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
            min_duration=self.min_duration_spin.value(),
            max_duration=self.max_duration_spin.value(),
        )

    def apply(self) -> None:
        self._on_settings(self.chosen())


def _seconds_spin(low: float, high: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(1)
    spin.setSingleStep(0.5)
    spin.setSuffix(" s")
    return spin
