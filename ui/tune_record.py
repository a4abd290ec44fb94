"""Step 1's other way in: read sentences aloud in the app and tune on the takes.

The user types or pastes sentences (one a line), then records each: the engine records the
microphone (``StartRecording``/``StopRecording``, the UI never opens a sound device), the
meter follows ``RecordingLevel``, and each take comes back checked (too short, silence,
clipping) so it can be played (the editor's ``PlayAudio``) and recorded again at once. The
takes and ``manifest.tsv`` live in a ``RecordingSet`` under Voxtune's home; "Train on these
recordings" hands its manifest to the Data step's check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine import protocol as p
from voxtune.engine.tune.recordings import RecordingSet
from voxtune.ui.bridge import EngineBridge

FLOOR_DBFS = -60
WARNING_COLOUR = "#c77700"  # amber: readable on light and dark


class RecordPanel(QWidget):
    use_recordings = Signal(Path)  # the set's manifest, to check and tune on

    def __init__(
        self,
        bridge: EngineBridge,
        device: Callable[[], str | int | None],
        recording_set: RecordingSet | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._device = device
        self.set = recording_set or RecordingSet.default()
        self.takes: dict[int, p.RecordingSaved] = {}  # this session's takes, by row
        self.recording_row: int | None = None
        self._asked: int | None = None

        self.sentences = QPlainTextEdit()
        self.sentences.setPlaceholderText(
            "Type or paste the sentences you want Voxtune to get right, one per line: "
            "the names, terms and phrases you dictate."
        )
        self.apply_button = QPushButton("Use these sentences")
        self.apply_button.clicked.connect(self.apply_sentences)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(("Sentence", "Take"))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents
        )
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.record_button = QPushButton("Record")
        self.record_button.setToolTip("Record the selected sentence; press again to stop")
        self.record_button.clicked.connect(self.toggle_recording)
        self.play_button = QPushButton("Play")
        self.play_button.clicked.connect(self.play)
        self.meter = QProgressBar()
        self.meter.setRange(FLOOR_DBFS, 0)
        self.meter.setValue(FLOOR_DBFS)
        self.meter.setFormat("%v dBFS")
        self.meter.setToolTip("Input level")
        self.status = QLabel("Select a sentence, press Record, read it, press Stop.")
        self.status.setWordWrap(True)
        self.use_button = QPushButton("Train on these recordings")
        self.use_button.clicked.connect(lambda: self.use_recordings.emit(self.set.manifest))

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.sentences, 1)
        left_layout.addWidget(self.apply_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.table, 1)
        controls = QHBoxLayout()
        controls.addWidget(self.record_button)
        controls.addWidget(self.play_button)
        controls.addWidget(self.meter, 1)
        controls.addWidget(self.use_button)
        right_layout.addLayout(controls)
        right_layout.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        bridge.recording_level.connect(self._on_level)
        bridge.recording_saved.connect(self._on_saved)
        bridge.engine_died.connect(lambda *_: self._recording_ended("The engine stopped."))
        self._load()

    # -- sentences ------------------------------------------------------------------------

    def _load(self) -> None:
        sentences = self.set.sentences()
        self.sentences.setPlainText("\n".join(sentences))
        self._fill(sentences)

    def apply_sentences(self) -> None:
        lines = [line.strip() for line in self.sentences.toPlainText().splitlines()]
        sentences = [line for line in lines if line]
        self.set.save_sentences(sentences)
        self.takes = {i: t for i, t in self.takes.items() if self.set.take(i).is_file()}
        self._fill(sentences)

    def _fill(self, sentences: list[str]) -> None:
        self.table.setRowCount(len(sentences))
        for row, sentence in enumerate(sentences):
            self.table.setItem(row, 0, QTableWidgetItem(sentence))
            self._show_take(row)
        if sentences:
            self.table.selectRow(self._next_unrecorded(0))
        self._update_buttons()

    def _show_take(self, row: int) -> None:
        take = self.takes.get(row)
        if take is not None:
            text = f"{take.seconds:.1f} s"
            if take.warnings:
                text += " — " + "; ".join(w.split(":")[0] for w in take.warnings)
        else:
            text = "recorded" if self.set.take(row).is_file() else "not recorded"
        item = QTableWidgetItem(text)
        if take is not None and take.warnings:
            item.setForeground(QBrush(QColor(WARNING_COLOUR)))
            item.setToolTip("\n".join(take.warnings))
        self.table.setItem(row, 1, item)

    def _next_unrecorded(self, start: int) -> int:
        rows = self.table.rowCount()
        for row in [*range(start, rows), *range(start)]:
            if not self.set.take(row).is_file():
                return row
        return min(start, rows - 1)

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    # -- takes ----------------------------------------------------------------------------

    def toggle_recording(self) -> None:
        if self.recording_row is not None:
            self.record_button.setEnabled(False)  # until the take is saved
            self.status.setText("Saving the take…")
            self.bridge.stop_recording()
            return
        row = self.selected_row()
        if row is None:
            return
        self._asked = self.bridge.start_recording(str(self.set.take(row)), self._device())
        if self._asked is None:
            return
        self.recording_row = row
        self.status.setText(f"Recording sentence {row + 1}: read it aloud, then press Stop.")
        self._update_buttons()

    def play(self) -> None:
        row = self.selected_row()
        if row is not None and self.set.take(row).is_file():
            self.bridge.play_audio(str(self.set.take(row)))

    def _on_level(self, dbfs: float) -> None:
        self.meter.setValue(max(FLOOR_DBFS, min(0, round(dbfs))))

    def _on_saved(self, saved: p.RecordingSaved) -> None:
        if self._asked is None or saved.reply_to != self._asked:
            return
        row = self.recording_row
        if saved.error is not None or row is None:
            self._recording_ended(f"Not recorded: {saved.error}")
            return
        self.takes[row] = saved
        self.set.write_manifest()
        self._show_take(row)
        self._recording_ended(
            "\n".join(saved.warnings) + "\nRecord it again?"
            if saved.warnings
            else f"Sentence {row + 1}: {saved.seconds:.1f} s, sounds fine."
        )
        if not saved.warnings:
            self.table.selectRow(self._next_unrecorded(row))

    def _recording_ended(self, message: str) -> None:
        if self.recording_row is None:
            return
        self.recording_row, self._asked = None, None
        self.record_button.setText("Record")
        self.meter.setValue(FLOOR_DBFS)
        self.status.setText(message)
        self._update_buttons()

    def _update_buttons(self) -> None:
        row = self.selected_row()
        recording = self.recording_row is not None
        has_take = row is not None and self.set.take(row).is_file()
        self.record_button.setEnabled(recording or row is not None)
        self.record_button.setText("Stop" if recording else "Re-record" if has_take else "Record")
        self.play_button.setEnabled(not recording and has_take)
        self.apply_button.setEnabled(not recording)
        self.table.setEnabled(not recording)
        self.use_button.setEnabled(not recording and len(self.set.recorded()) >= 2)
