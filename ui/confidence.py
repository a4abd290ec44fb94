"""How sure the model was of a word, as a colour a reader can tell apart in light and dark.

Three bands, not a gradient: a reader scanning a transcript asks "which words should I
check?", and a handful of named levels answers that better than shades. The colours are
mid-tone (contrast above 3:1 against both white and the dark palette's base), so one scale
serves both themes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget


@dataclass(frozen=True, slots=True)
class ConfidenceBand:
    name: str
    lower: float  # a word with confidence >= lower (and below the next band) is in this band
    light: str  # text colour on a light background
    dark: str  # text colour on a dark background


BANDS: tuple[ConfidenceBand, ...] = (
    ConfidenceBand("sure", 0.85, "#1b7f3b", "#6fdc8c"),
    ConfidenceBand("likely", 0.6, "#9a6700", "#f2c14e"),
    ConfidenceBand("unsure", 0.0, "#c62828", "#ff8a80"),
)
PARTIAL_LIGHT = "#6b6b6b"
PARTIAL_DARK = "#a8a8a8"


def band_for(confidence: float) -> ConfidenceBand:
    for band in BANDS:
        if confidence >= band.lower:
            return band
    return BANDS[-1]


def is_dark(background: QColor) -> bool:
    return background.lightnessF() < 0.5


def colour_for(confidence: float, dark: bool) -> str:
    band = band_for(confidence)
    return band.dark if dark else band.light


def partial_colour(dark: bool) -> str:
    return PARTIAL_DARK if dark else PARTIAL_LIGHT


def band_label(band: ConfidenceBand) -> str:
    upper = {b.lower: a.lower for a, b in itertools.pairwise(BANDS)}
    top = upper.get(band.lower)
    span = f"≥ {band.lower:.0%}" if top is None else f"{band.lower:.0%}–{top:.0%}"
    return f"{band.name} ({span})"


class ConfidenceLegend(QWidget):
    """The key to the transcript's colours, including how provisional words look."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Confidence:"))
        self.labels: list[QLabel] = []
        for band in BANDS:
            label = QLabel(band_label(band))
            label.setObjectName(f"legend-{band.name}")
            self.labels.append(label)
            layout.addWidget(label)
        self.partial_label = QLabel("<i><u>provisional</u></i>")
        layout.addWidget(self.partial_label)
        layout.addStretch(1)
        self.refresh()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.refresh()

    def refresh(self) -> None:
        dark = is_dark(self.palette().window().color())
        for band, label in zip(BANDS, self.labels, strict=True):
            label.setStyleSheet(f"color: {band.dark if dark else band.light}; font-weight: bold;")
        self.partial_label.setStyleSheet(f"color: {partial_colour(dark)};")
