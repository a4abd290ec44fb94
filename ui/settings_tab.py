"""Settings tab: model, language, beam size, device, subtitle cue rules.

The output folder is chosen in one place only, the Files tab, beside the formats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Qt
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

from voxtune.ui.dictation import DEFAULT_HOTKEY, availability, check_hotkey
from voxtune.ui.settings import BACKENDS, DEVICES, UiSettings

DEVICE_NOTE = "Changing the device, the backend or the cluster restarts the engine."
BACKEND_TIPS = {
    "torch": "PyTorch: runs every model; tuning always uses it.",
    "onnx": "ONNX Runtime: a model is exported once (voxtune export onnx) and run from there.",
}
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

        # Editable, so a model the engine has not listed yet can be typed; Apply refuses a
        # name that is not in the engine's listing once there is one.
        self.model_box = QComboBox()
        self.model_box.setEditable(True)
        self.model_box.setMinimumContentsLength(28)  # a Hub id fits; no 1600 px wide field
        self.model_box.setMaximumWidth(480)
        self.known_models: tuple[str, ...] = ()
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
        self.backend_box = QComboBox()
        for backend in BACKENDS:
            self.backend_box.addItem("PyTorch" if backend == "torch" else "ONNX Runtime", backend)
            self.backend_box.setItemData(
                self.backend_box.count() - 1, BACKEND_TIPS[backend], Qt.ItemDataRole.ToolTipRole
            )
        # Checked by the engine when it starts (it joins the cluster); the app has no Ray.
        self.cluster_edit = QLineEdit()
        self.cluster_edit.setPlaceholderText("ray://HOST:10001 (empty: this machine)")
        self.cluster_edit.setToolTip("Files tab jobs run on this Ray cluster (see the README)")
        self.chars_spin = QSpinBox()
        self.chars_spin.setRange(10, 120)
        self.lines_spin = QSpinBox()
        self.lines_spin.setRange(1, 4)
        self.min_duration_spin = _seconds_spin(0.0, 10.0)
        self.max_duration_spin = _seconds_spin(MIN_LONGEST_CUE, 30.0)
        # The rules need min <= max; the spin boxes keep it, so Apply never meets a refusal.
        self.min_duration_spin.valueChanged.connect(self._keep_durations_ordered)

        # The global dictation hotkey (ui/dictation.py): off unless typed; says where it works.
        self.hotkey_edit = QLineEdit()
        self.hotkey_edit.setPlaceholderText(f"off — e.g. {DEFAULT_HOTKEY}")
        self.hotkey_edit.setFixedWidth(200)  # as wide as the fields above: the hint fits
        self.hotkey_note = QLabel(availability()[1])
        self.hotkey_note.setWordWrap(True)
        hotkey_row = QHBoxLayout()
        hotkey_row.addWidget(self.hotkey_edit)
        hotkey_row.addWidget(self.hotkey_note, 1)

        for narrow in (
            self.language_box, self.beam_spin, self.device_box, self.backend_box,
            self.chars_spin, self.lines_spin,
            self.min_duration_spin, self.max_duration_spin,
        ):  # fmt: skip
            narrow.setMaximumWidth(200)
        form = QFormLayout()
        form.addRow("Model:", self.model_box)
        form.addRow("Language:", self.language_box)
        form.addRow("Beam size:", self.beam_spin)
        form.addRow("Device:", self.device_box)
        form.addRow("Backend:", self.backend_box)
        form.addRow("Cluster (Files tab):", self.cluster_edit)
        form.addRow("Subtitle characters per line:", self.chars_spin)
        form.addRow("Subtitle lines per cue:", self.lines_spin)
        form.addRow("Shortest cue:", self.min_duration_spin)
        form.addRow("Longest cue:", self.max_duration_spin)
        form.addRow("Dictation hotkey:", hotkey_row)

        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self.apply)
        self.note = QLabel(DEVICE_NOTE)
        self.note.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.note, 1)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.load(settings())
        for box in (self.language_box, self.device_box, self.backend_box):
            box.currentIndexChanged.connect(self._update_state)
        for editable in (self.model_box, self.language_box):
            editable.editTextChanged.connect(self._update_state)
        self.hotkey_edit.textChanged.connect(self._update_state)
        self.cluster_edit.textChanged.connect(self._update_state)
        for spin in (
            self.beam_spin, self.chars_spin, self.lines_spin, self.min_duration_spin,
            self.max_duration_spin,
        ):  # fmt: skip
            spin.valueChanged.connect(self._update_state)
        self._update_state()

    def set_models(self, names: tuple[str, ...]) -> None:
        """The engine's listing: the names offered, and the names Apply accepts."""
        chosen = self.model_box.currentText()
        self.known_models = names
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItems(list(names))
        self.model_box.setEditText(chosen)
        self.model_box.blockSignals(False)
        self._update_state()

    def problem(self) -> str | None:
        model = self.model_box.currentText().strip()
        if not model:
            return "Choose a model."
        if self.known_models and model not in self.known_models:
            return f"Unknown model '{model}': choose one from the list or import it (Models tab)."
        hotkey = self.hotkey_edit.text().strip()
        # Checked where it can work; elsewhere it is kept, and the note beside it says why not.
        if hotkey and availability()[0] and (trouble := check_hotkey(hotkey)):
            return f"Dictation hotkey {trouble}"
        return None

    def dirty(self) -> bool:
        return self.chosen() != self._settings()

    def _update_state(self, *_: object) -> None:
        """Apply is live only for a change it can make; the note says which."""
        problem = self.problem()
        dirty = self.dirty()
        self.apply_button.setEnabled(dirty and problem is None)
        if problem:
            self.note.setText(problem)
            self.note.setStyleSheet("color: #c62828;")
        elif dirty:
            self.note.setText(f"Unsaved changes. {DEVICE_NOTE}")
            self.note.setStyleSheet("font-weight: bold;")
        else:
            self.note.setText(DEVICE_NOTE)
            self.note.setStyleSheet("")

    def load(self, settings: UiSettings) -> None:
        self.model_box.setEditText(settings.model)
        index = self.language_box.findData(settings.language)
        if index >= 0:
            self.language_box.setCurrentIndex(index)
        else:
            self.language_box.setEditText(settings.language)
        self.beam_spin.setValue(settings.beam_size)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(settings.device)))
        self.backend_box.setCurrentIndex(max(0, self.backend_box.findData(settings.backend)))
        self.cluster_edit.setText(settings.cluster)
        self.chars_spin.setValue(settings.max_line_chars)
        self.lines_spin.setValue(settings.max_lines)
        self.max_duration_spin.setMinimum(MIN_LONGEST_CUE)  # a saved maximum is not clamped
        self.max_duration_spin.setValue(settings.max_duration)
        self.min_duration_spin.setValue(min(settings.min_duration, settings.max_duration))
        self._keep_durations_ordered(self.min_duration_spin.value())
        self.hotkey_edit.setText(settings.hotkey)
        if hasattr(self, "apply_button"):
            self._update_state()

    def _keep_durations_ordered(self, shortest: float) -> None:
        self.max_duration_spin.setMinimum(max(MIN_LONGEST_CUE, shortest))

    def chosen(self) -> UiSettings:
        text = self.language_box.currentText().strip()
        language = "" if text in ("", "detect") else text
        return replace(
            self._settings(),
            model=self.model_box.currentText().strip() or self._settings().model,
            language=language,
            beam_size=self.beam_spin.value(),
            device=self.device_box.currentData(),
            backend=self.backend_box.currentData(),
            cluster=self.cluster_edit.text().strip(),
            max_line_chars=self.chars_spin.value(),
            max_lines=self.lines_spin.value(),
            min_duration=self.min_duration_spin.value(),
            max_duration=self.max_duration_spin.value(),
            hotkey=self.hotkey_edit.text().strip(),
        )

    def apply(self) -> None:
        if self.problem() is None:
            self._on_settings(self.chosen())
        self._update_state()


def _seconds_spin(low: float, high: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(1)
    spin.setSingleStep(0.5)
    spin.setSuffix(" s")
    return spin
