"""Step 4, Result: WER before and after on the held-out rows, the worst utterances, and
"Use this model" (the tuned model becomes the default for files and live in one click).

The numbers are the engine's ``TuneFinished`` (the same as ``OUT/tune-summary.json``); the
worst utterances are the final evaluation's, with the words that differ marked.
"""

from __future__ import annotations

import difflib
import html

from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine.tune.events import TuneFinished, WorstUtterance


def wer_text(wer: float | None) -> str:
    return "—" if wer is None else f"{100 * wer:.1f} %"


def diff_html(reference: str, hypothesis: str) -> str:
    """The hypothesis word by word: wrong or extra words red, missing ones struck through."""
    ref, hyp = reference.split(), hypothesis.split()
    parts = []
    for op, r1, r2, h1, h2 in difflib.SequenceMatcher(a=ref, b=hyp).get_opcodes():
        if op == "equal":
            parts.append(html.escape(" ".join(hyp[h1:h2])))
            continue
        if r2 > r1:
            parts.append(f"<s style='color:#888'>{html.escape(' '.join(ref[r1:r2]))}</s>")
        if h2 > h1:
            parts.append(f"<b style='color:#c62828'>{html.escape(' '.join(hyp[h1:h2]))}</b>")
    return " ".join(parts)


class ResultPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.before = QLabel()
        self.after = QLabel()
        for label in (self.before, self.after):
            label.setStyleSheet("font-size: 20px;")
        self.worst = QTextBrowser()
        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Make it the default model for files and live")
        self.used = QLabel()
        # The exports (ONNX, GGUF) land with their own issues: their buttons go here.
        self.exports = QGroupBox("Export (ONNX / GGUF: coming with the export issues)")
        exports_row = QHBoxLayout(self.exports)
        for name in ("ONNX", "GGUF"):
            button = QPushButton(f"Export {name}")
            button.setEnabled(False)
            exports_row.addWidget(button)
        numbers = QHBoxLayout()
        numbers.addWidget(QLabel("WER before:"))
        numbers.addWidget(self.before)
        numbers.addSpacing(24)
        numbers.addWidget(QLabel("after:"))
        numbers.addWidget(self.after)
        numbers.addStretch(1)
        use_row = QHBoxLayout()
        use_row.addWidget(self.use_button)
        use_row.addWidget(self.used, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addLayout(numbers)
        layout.addWidget(QLabel("Worst held-out utterances after tuning:"))
        layout.addWidget(self.worst, 1)
        layout.addLayout(use_row)
        layout.addWidget(self.exports)
        self.summary: TuneFinished | None = None

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
        rows = [
            f"<p><b>{100 * w.wer:.0f} %</b> {html.escape(w.audio)}<br>"
            f"ref: {html.escape(w.reference)}<br>hyp: {diff_html(w.reference, w.hypothesis)}</p>"
            for w in worst
            if w.wer > 0
        ]
        self.worst.setHtml("".join(rows) or "<p>No errors left on the held-out rows.</p>")
        self.use_button.setEnabled(summary.registered_as is not None)
        self.used.clear()

    def show_failure(self, message: str) -> None:
        self.summary = None
        self.headline.setText(f"The tune failed: {message}")
        self.before.setText(wer_text(None))
        self.after.setText(wer_text(None))
        self.worst.clear()
        self.use_button.setEnabled(False)
