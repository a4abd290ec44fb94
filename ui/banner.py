"""A strip across the top of the window for trouble with the engine (and its recovery)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


class EngineBanner(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("engine-banner")
        # A plain QWidget subclass ignores a style sheet's background and border unless it
        # is told to draw them: without this the banner was dark-red text on window grey.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            "#engine-banner { background: #fdecea; border: 1px solid #c62828; }"
            "#engine-banner QLabel { color: #5f1111; }"
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_death(self, reason: str, job_ids: tuple[int, ...]) -> None:
        jobs = f" {len(job_ids)} running job(s) will resume." if job_ids else ""
        self.label.setText(f"{reason[:1].upper()}{reason[1:]}. Restarting it…{jobs}")
        self.show()

    def show_restarted(self) -> None:
        if self.isVisible():
            self.label.setText(self.label.text().replace("Restarting it…", "It was restarted."))

    def show_error(self, message: str) -> None:
        self.label.setText(message)
        self.show()
