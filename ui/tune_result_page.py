"""Step 4, Result: WER before and after on the held-out rows and on general speech (the
regression guard), the worst utterances with their word diffs and a Play button each, "Use
this model" in one click, and an Export button per format the engine offers.

The numbers are the engine's ``TuneFinished`` (the same as ``OUT/tune-summary.json``); the
worst utterances are the final evaluation's, aligned word by word as jiwer counts WER
(``tune.report.word_alignment``). The page asks for playback and exports by signal; the tab
sends the commands.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine import protocol as p
from voxtune.engine.export.formats import EXPORT_FORMATS
from voxtune.engine.tune.events import TuneFinished, WorstUtterance
from voxtune.engine.tune.report import word_alignment

WRONG = "#e0483e"  # red that reads on light and dark backgrounds
MISSED = "#8a8a8a"
GUARD_POINTS = 1.0  # general speech this much worse is called out


def wer_text(wer: float | None) -> str:
    return "—" if wer is None else f"{100 * wer:.1f} %"


def diff_html(reference: str, hypothesis: str) -> str:
    """The hypothesis word by word: wrong or extra words red, missing ones struck through."""
    parts = []
    for part in word_alignment(reference, hypothesis):
        if part.op == "equal":
            parts.append(html.escape(part.hypothesis))
            continue
        if part.reference:
            parts.append(f"<s style='color:{MISSED}'>{html.escape(part.reference)}</s>")
        if part.hypothesis:
            parts.append(f"<b style='color:{WRONG}'>{html.escape(part.hypothesis)}</b>")
    return " ".join(parts)


class ResultPage(QWidget):
    play_requested = Signal(str)  # an utterance's audio file
    export_requested = Signal(str)  # a format's name (``EXPORT_FORMATS``)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.before, self.after = QLabel(), QLabel()
        self.general_before, self.general_after = QLabel(), QLabel()
        for label in (self.before, self.after, self.general_before, self.general_after):
            label.setStyleSheet("font-size: 20px;")
        self.guard = QLabel()
        self.guard.setWordWrap(True)
        numbers = QGridLayout()
        numbers.addWidget(QLabel("WER"), 0, 0)
        numbers.addWidget(QLabel("before"), 0, 1)
        numbers.addWidget(QLabel("after"), 0, 2)
        numbers.addWidget(QLabel("Your held-out sentences:"), 1, 0)
        numbers.addWidget(self.before, 1, 1)
        numbers.addWidget(self.after, 1, 2)
        general = QLabel("General English (regression guard):")
        general.setToolTip("FLEURS sentences shipped with Voxtune: did the tune forget?")
        numbers.addWidget(general, 2, 0)
        numbers.addWidget(self.general_before, 2, 1)
        numbers.addWidget(self.general_after, 2, 2)
        numbers.setColumnStretch(3, 1)
        numbers.setHorizontalSpacing(24)

        self.worst_rows = QWidget()
        self.worst_layout = QVBoxLayout(self.worst_rows)
        self.worst_layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.worst = QScrollArea()
        self.worst.setWidgetResizable(True)
        self.worst.setWidget(self.worst_rows)
        self.play_buttons: list[QPushButton] = []

        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Make it the default model for files and live")
        self.used = QLabel()
        use_row = QHBoxLayout()
        use_row.addWidget(self.use_button)
        use_row.addWidget(self.used, 1)

        # One button per format of the engine's export table (GGUF, ggml: one entry each).
        self.exports = QGroupBox("Export (re-transcribes a test set: WER, size, speed)")
        exports_layout = QVBoxLayout(self.exports)
        buttons = QHBoxLayout()
        self.export_buttons: dict[str, QPushButton] = {}
        for entry in EXPORT_FORMATS:
            button = QPushButton(f"Export {entry.label}")
            button.setToolTip(f"Runs on {entry.runs_on}")
            button.clicked.connect(lambda _=False, n=entry.name: self.export_requested.emit(n))
            self.export_buttons[entry.name] = button
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.export_status = QLabel()
        self.export_status.setWordWrap(True)
        self.export_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        exports_layout.addLayout(buttons)
        exports_layout.addWidget(self.export_status)

        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addLayout(numbers)
        layout.addWidget(self.guard)
        layout.addWidget(QLabel("Worst held-out sentences after tuning:"))
        layout.addWidget(self.worst, 1)
        layout.addLayout(use_row)
        layout.addWidget(self.exports)
        self.summary: TuneFinished | None = None
        self.exports_done: dict[str, p.ExportDone] = {}
        self._set_enabled(False)

    def show_result(
        self, summary: TuneFinished, worst: tuple[WorstUtterance, ...], stopped: bool
    ) -> None:
        self.summary = summary
        how = "stopped early, best weights kept" if stopped or summary.stopped_early else "done"
        self.headline.setText(
            f"Tuning {how}: {summary.steps} steps (best at step {summary.best_step}). "
            f"Saved in {summary.adapter}."
        )
        self.before.setText(wer_text(summary.wer_before))
        self.after.setText(wer_text(summary.wer_after))
        self.general_before.setText(wer_text(summary.general_wer_before))
        self.general_after.setText(wer_text(summary.general_wer_after))
        self.guard.setText(guard_text(summary))
        self._show_worst([w for w in worst if w.wer > 0])
        self.used.clear()
        self.export_status.clear()
        self.exports_done = {}
        self._set_enabled(True)
        self.use_button.setEnabled(summary.registered_as is not None)

    def show_failure(self, message: str) -> None:
        self.summary = None
        self.headline.setText(f"The tune failed: {message}")
        for label in (self.before, self.after, self.general_before, self.general_after):
            label.setText(wer_text(None))
        self.guard.clear()
        self._show_worst([])
        self._set_enabled(False)

    def _show_worst(self, worst: list[WorstUtterance]) -> None:
        while (item := self.worst_layout.takeAt(0)) is not None:
            if item.widget() is not None:
                item.widget().deleteLater()
        self.play_buttons = []
        if not worst and self.summary is not None:
            self.worst_layout.addWidget(QLabel("No errors left on the held-out sentences."))
        for utterance in worst:
            row = QHBoxLayout()
            play = QPushButton("Play")
            play.setEnabled(bool(utterance.path))
            play.setToolTip(utterance.path)
            play.clicked.connect(lambda _=False, f=utterance.path: self.play_requested.emit(f))
            self.play_buttons.append(play)
            text = QLabel(
                f"<b>{100 * utterance.wer:.0f} %</b> &nbsp;{html.escape(utterance.audio)}<br>"
                f"{diff_html(utterance.reference, utterance.hypothesis)}"
            )
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            row.addWidget(play, 0, Qt.AlignmentFlag.AlignTop)
            row.addWidget(text, 1)
            holder = QWidget()
            holder.setLayout(row)
            self.worst_layout.addWidget(holder)

    # -- exports --------------------------------------------------------------------------

    def export_started(self, name: str, out: str) -> None:
        for button in self.export_buttons.values():
            button.setEnabled(False)
        self.export_status.setText(f"Exporting {_label(name)} to {out} and checking it…")

    def show_export(self, done: p.ExportDone) -> None:
        self.exports_done[done.format] = done
        self._set_enabled(self.summary is not None)
        self.use_button.setEnabled(self.summary is not None and bool(self.summary.registered_as))
        self.export_status.setText(export_text(done))

    def _set_enabled(self, enabled: bool) -> None:
        self.use_button.setEnabled(enabled)
        for button in self.export_buttons.values():
            button.setEnabled(enabled)


def guard_text(summary: TuneFinished) -> str:
    before, after = summary.general_wer_before, summary.general_wer_after
    if before is None or after is None:
        return "No general speech was scored for this tune."
    change = 100 * (after - before)
    if change > GUARD_POINTS:
        return (
            f"<span style='color:{WRONG}'>General English got {change:.1f} points worse: the "
            "model is forgetting. Fewer epochs or more varied sentences help.</span>"
        )
    return f"General English changed by {change:+.1f} points: nothing forgotten."


def export_text(done: p.ExportDone) -> str:
    name = _label(done.format)
    if done.error is not None or done.report is None:
        return f"{name} export failed: {done.error}"
    r = done.report
    return (
        f"{name} export in {done.out}: WER {wer_text(r.wer_export)} (the model before export: "
        f"{wer_text(r.wer_source)}), {r.export_bytes / 1e6:.1f} MB (was "
        f"{r.source_bytes / 1e6:.1f} MB), {r.rtf_export:.3f}× real time (was "
        f"{r.rtf_source:.3f}×)."
    )


def _label(name: str) -> str:
    return next((e.label for e in EXPORT_FORMATS if e.name == name), name)
