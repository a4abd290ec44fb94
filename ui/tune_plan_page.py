"""Step 2, Plan: base model, preset, and the engine's measured estimate before anything runs.

``EstimateTune`` loads the base, trains a few real steps on the user's rows and extrapolates:
time, peak memory and disk. When the run will not fit, the warning says so in red and Start
asks again before going on.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine import protocol as p
from voxtune.engine.tune.config import TRAIN_PARTS
from voxtune.engine.tune.events import TuneEstimate
from voxtune.ui.tune_plan import PRESETS, TunePlan

GIB = 1024**3


def duration_text(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def estimate_text(estimate: TuneEstimate) -> str:
    return (
        f"About {duration_text(estimate.seconds)} on {estimate.device.upper()} "
        f"({estimate.total_steps} steps of {estimate.step_seconds:.2f} s, measured here) · "
        f"peak memory {estimate.peak_memory_bytes / GIB:.1f} GiB of "
        f"{estimate.available_memory_bytes / GIB:.1f} GiB free · "
        f"disk {estimate.disk_bytes / 1e6:.0f} MB of {estimate.free_disk_bytes / GIB:.0f} GiB free"
    )


class PlanPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base = QComboBox()
        self.base.setEditable(True)
        self.presets = QButtonGroup(self)
        preset_row = QVBoxLayout()
        for index, preset in enumerate(PRESETS.values()):
            button = QRadioButton(f"{preset.name}: {preset.summary}")
            button.setObjectName(preset.name)
            self.presets.addButton(button, index)
            preset_row.addWidget(button)
        self.presets.buttons()[0].setChecked(True)
        self.rank = QSpinBox()
        self.rank.setRange(1, 256)
        self.rank.setValue(32)
        self.epochs = QDoubleSpinBox()
        self.epochs.setRange(0.1, 50.0)
        self.epochs.setValue(2.0)
        self.train = QComboBox()
        self.train.addItems(TRAIN_PARTS)
        self.custom = QGroupBox("Custom")
        custom_form = QFormLayout(self.custom)
        custom_form.addRow("LoRA rank", self.rank)
        custom_form.addRow("Epochs", self.epochs)
        custom_form.addRow("What trains", self.train)
        self.presets.idToggled.connect(lambda *_: self._sync_custom())
        self.out = QLineEdit()
        self.estimate_button = QPushButton("Estimate on this machine")
        self.estimate_label = QLabel("No estimate yet.")
        self.estimate_label.setWordWrap(True)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #c62828; font-weight: bold;")
        self.warning.hide()
        self.start_button = QPushButton("Start tuning")

        form = QFormLayout()
        form.addRow("Base model", self.base)
        form.addRow("Preset", preset_row)
        form.addRow("Output folder", self.out)
        buttons = QHBoxLayout()
        buttons.addWidget(self.estimate_button)
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.custom)
        layout.addWidget(self.estimate_label)
        layout.addWidget(self.warning)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.estimate: TuneEstimate | None = None
        self._sync_custom()

    @property
    def preset(self) -> str:
        return self.presets.checkedButton().objectName()

    def choose_preset(self, name: str) -> None:
        next(b for b in self.presets.buttons() if b.objectName() == name).setChecked(True)

    def set_models(self, names: list[str], current: str) -> None:
        typed = self.base.currentText() or current
        self.base.clear()
        self.base.addItems(names)
        self.base.setCurrentText(typed)

    def plan(self, data: Path, device: str) -> TunePlan:
        out = Path(self.out.text())
        return TunePlan(
            data=data,
            out=out,
            base=self.base.currentText(),
            preset=self.preset,
            rank=self.rank.value(),
            epochs=self.epochs.value(),
            train=self.train.currentText(),
            device=device,
        )

    def estimating(self) -> None:
        self.estimate = None
        self.estimate_label.setText("Measuring a few training steps on your rows…")
        self.warning.hide()

    def show_estimate(self, event: p.TuneEstimated) -> None:
        self.estimate = event.estimate
        if event.estimate is None:
            self.estimate_label.setText(f"No estimate: {event.error}")
            return
        self.estimate_label.setText(estimate_text(event.estimate))
        self.warning.setText("Will not fit: " + "; ".join(event.estimate.warnings))
        self.warning.setVisible(not event.estimate.fits)

    def _sync_custom(self) -> None:
        self.custom.setEnabled(self.preset == "Custom")
