"""Step 3, Train: live charts of the running tune, its speed and ETA, and Stop & save.

Drawn with pyqtgraph (fast, redraws only what changed): training loss per step, validation
WER per evaluation, learning rate per step. The numbers are the engine's ``TuneProgress``
events as they come; nothing is computed here but the labels.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine.tune.events import EvalDone, StepDone, TuneEvent, TuneStarted
from voxtune.ui.tune_plan_page import duration_text


def _chart(title: str, y_label: str) -> tuple[pg.PlotWidget, pg.PlotDataItem]:
    chart = pg.PlotWidget(title=title)
    chart.setLabel("bottom", "step")
    chart.setLabel("left", y_label)
    chart.showGrid(x=True, y=True, alpha=0.3)
    curve = chart.plot(
        [], [], pen=pg.mkPen(CURVE, width=2), symbol="o", symbolSize=5, symbolBrush=CURVE,
        symbolPen=CURVE,
    )  # fmt: skip
    return chart, curve


CURVE = "#3d8fd6"  # a blue that reads on the light and the dark palette


def _follow_palette(chart: pg.PlotWidget, palette: QPalette) -> None:
    """pyqtgraph draws white on black whatever the app's theme: use the theme's colours."""
    text = palette.color(QPalette.ColorRole.WindowText)
    chart.setBackground(palette.color(QPalette.ColorRole.Base))
    for side in ("left", "bottom"):
        axis = chart.getAxis(side)
        axis.setPen(text)
        axis.setTextPen(text)
    item = chart.getPlotItem()
    item.setTitle(item.titleLabel.text, color=text.name())


class TrainPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_chart, self.loss_curve = _chart("Training loss", "loss")
        self.wer_chart, self.wer_curve = _chart("Validation WER", "WER %")
        self.lr_chart, self.lr_curve = _chart("Learning rate", "lr")
        self.progress = QProgressBar()
        self.status = QLabel("Waiting for the engine…")
        self.speed = QLabel()
        self.eta = QLabel()
        self.stop_button = QPushButton("Stop && save")
        self.stop_button.setToolTip("End after this step and keep the best weights so far")
        charts = QGridLayout()
        charts.addWidget(self.loss_chart, 0, 0)
        charts.addWidget(self.wer_chart, 0, 1)
        charts.addWidget(self.lr_chart, 1, 0, 1, 2)
        figures = QHBoxLayout()
        figures.addWidget(self.status, 1)
        figures.addWidget(self.speed)
        figures.addWidget(self.eta)
        figures.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(charts, 1)
        layout.addWidget(self.progress)
        layout.addLayout(figures)
        self.clear()
        self._restyle()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()
        super().changeEvent(event)

    def _restyle(self) -> None:
        for chart in (self.loss_chart, self.wer_chart, self.lr_chart):
            _follow_palette(chart, self.palette())

    def clear(self) -> None:
        self.losses: list[tuple[int, float]] = []
        self.wers: list[tuple[int, float]] = []  # percent
        self.rates: list[tuple[int, float]] = []
        for curve in (self.loss_curve, self.wer_curve, self.lr_curve):
            curve.setData([], [])
        self.progress.setValue(0)
        self.speed.clear()
        self.eta.clear()
        self.stop_button.setEnabled(True)

    def add(self, update: TuneEvent) -> None:
        match update:
            case TuneStarted(total_steps=total, start_step=start):
                self.progress.setRange(0, total)
                self.progress.setValue(start)
                resumed = f", resumed at step {start}" if start else ""
                self.status.setText(f"Training: {total} steps{resumed}")
            case StepDone():
                self.losses.append((update.step, update.loss))
                self.rates.append((update.step, update.learning_rate))
                _draw(self.loss_curve, self.losses)
                _draw(self.lr_curve, self.rates)
                self.progress.setRange(0, update.total_steps)
                self.progress.setValue(update.step)
                self.status.setText(f"Step {update.step} of {update.total_steps}")
                self.speed.setText(f"{update.samples_per_second:.1f} samples/s")
                self.eta.setText(f"ETA {duration_text(update.eta_seconds)}")
            case EvalDone(step=step, wer=wer, label=label):
                self.wers.append((step, 100 * wer))
                _draw(self.wer_curve, self.wers)
                if label == "after":
                    self.status.setText("Saving the tuned model…")
            case _:
                pass

    def stopping(self) -> None:
        self.stop_button.setEnabled(False)
        self.status.setText("Stopping after this step; the best weights so far are kept…")


def _draw(curve: pg.PlotDataItem, points: list[tuple[int, float]]) -> None:
    curve.setData([x for x, _ in points], [y for _, y in points])
