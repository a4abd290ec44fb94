"""The transcript editor: a finished job's segments, played, corrected and written again.

It opens from the Files tab (double-click a done job), and from the Live tab when a session
stops (job id ``LIVE_TRANSCRIPT_ID``: saved with SaveLive to ``live_target``, and played
only when the session heard a file — the microphone is not recorded). Everything goes
through the bridge: the engine reads the job store, plays the audio (sounddevice; the UI's Qt has no
QtMultimedia) and writes the files; this window only holds segments and an undo stack.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine import protocol as p
from voxtune.engine.jobs.job import OUTPUT_FORMATS
from voxtune.engine.subtitles.rules import DEFAULT_RULES, SubtitleRules
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.confidence import colour_for, is_dark
from voxtune.ui.editor_model import SegmentTableModel
from voxtune.ui.editor_segments import find_rows, merge, replace_text, split, word_at

HIGHLIGHT = "#ffd54f"  # the word being heard: a background both themes can read on


@dataclass(frozen=True)
class LiveTarget:
    """Where the live transcript's editor writes its files: ``folder/stem.<format>``."""

    folder: Path
    stem: str
    rules: SubtitleRules = DEFAULT_RULES


class TranscriptEditor(QMainWindow):
    saved = Signal(tuple)  # the paths written again

    def __init__(
        self,
        bridge: EngineBridge,
        opened: p.TranscriptOpened,
        parent: QWidget | None = None,
        live_target: LiveTarget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.job_id = opened.job_id
        self.audio_path = opened.audio_path
        self.language = opened.transcript.language
        self.live_target = live_target if opened.job_id == p.LIVE_TRANSCRIPT_ID else None
        heard = Path(opened.audio_path).name if opened.audio_path else "microphone"
        live = "Live: " if opened.job_id == p.LIVE_TRANSCRIPT_ID else ""
        self.setWindowTitle(f"{live}{heard} — transcript")
        self.resize(900, 600)
        self.undo = QUndoStack(self)
        self.model = SegmentTableModel(opened.transcript.segments, self.undo)
        self.model.dark = is_dark(self.palette().base().color())
        self.playing = False
        self.current_word: tuple[int, int] | None = None
        self.outputs: tuple[str, ...] = ()

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._on_double_click)
        self.words = QTextBrowser()
        self.words.setOpenLinks(False)
        self.words.anchorClicked.connect(self._on_word_clicked)
        self.words.setToolTip("Click a word to play from it; Ctrl+click to split before it")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.words)
        splitter.setSizes([420, 140])

        self.find_edit = QLineEdit()
        self.find_edit.setPlaceholderText("Find")
        self.replace_edit = QLineEdit()
        self.replace_edit.setPlaceholderText("Replace with")
        self.case_box = QCheckBox("Match case")
        find_next = QPushButton("Find next")
        find_next.clicked.connect(self.find_next)
        replace_all = QPushButton("Replace all")
        replace_all.clicked.connect(lambda: self.replace_all())
        search = QHBoxLayout()
        for widget in (self.find_edit, self.replace_edit, self.case_box, find_next, replace_all):
            search.addWidget(widget)

        self.format_boxes = {f: QCheckBox(f.upper()) for f in OUTPUT_FORMATS}
        for box in self.format_boxes.values():
            box.setChecked(True)
        self.status = QLabel("Edited transcript (from the job store)." if opened.edited else "")
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(QLabel("Export:"))
        for box in self.format_boxes.values():
            bottom.addWidget(box)
        save_button = QPushButton("Save && export")
        save_button.clicked.connect(self.save)
        bottom.addWidget(save_button)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(search)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self.setCentralWidget(central)
        self._make_actions()

        self.table.selectionModel().currentRowChanged.connect(lambda *_: self.show_words())
        self.model.modelReset.connect(self.show_words)
        self.model.dataChanged.connect(lambda *_: self.show_words())
        bridge.playback_position.connect(self._on_position)
        bridge.playback_stopped.connect(self._on_playback_stopped)
        bridge.transcript_saved.connect(self._on_saved)
        bridge.live_saved.connect(self._on_live_saved)
        if self.model.rowCount():
            self.table.selectRow(0)

    def _make_actions(self) -> None:
        bar = QToolBar("Editor")
        self.addToolBar(bar)
        undo = self.undo.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo.createRedoAction(self, "Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        specs = (
            ("Play segment", "Ctrl+Space", self.play_selected),
            ("Stop", "Esc", self.stop_playback),
            ("Split at word", "Ctrl+K", self.split_selected),
            ("Merge with next", "Ctrl+M", self.merge_selected),
            ("Find", QKeySequence.StandardKey.Find, self.find_edit.setFocus),
            ("Save and export", QKeySequence.StandardKey.Save, self.save),
        )
        self.actions_by_name: dict[str, QAction] = {"Undo": undo, "Redo": redo}
        for text, shortcut, slot in specs:
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _=False, s=slot: s())
            self.actions_by_name[text] = action
        for action in self.actions_by_name.values():
            bar.addAction(action)
        self.split_word = 1  # the word a split goes before: the last one clicked

    # -- words ------------------------------------------------------------------------

    def selected_row(self) -> int:
        index = self.table.currentIndex()
        return index.row() if index.isValid() else 0

    def show_words(self) -> None:
        if not self.model.rowCount():
            self.words.clear()
            return
        row = self.selected_row()
        segment = self.model.segment(row)
        dark = self.model.dark
        parts = []
        for i, word in enumerate(segment.words):
            style = f"color:{colour_for(word.confidence, dark)};text-decoration:none;"
            if self.current_word == (row, i):
                style += f"background:{HIGHLIGHT};color:#000;"
            title = f"{word.start:.2f}–{word.end:.2f} s, {word.confidence:.0%} sure"
            text = html.escape(word.text)
            parts.append(f'<a href="w:{row}:{i}" style="{style}" title="{title}">{text}</a>')
        self.words.setHtml("".join(parts) or html.escape(segment.text))

    def _on_word_clicked(self, url: QUrl) -> None:
        _, row, index = url.toString().split(":")
        self.split_word = int(index)
        self.play_word(int(row), int(index))

    def _on_double_click(self, index: QModelIndex) -> None:
        if index.column() != 2:  # the text column edits on double-click; the times play
            self.play_segment(index.row())

    # -- playback ---------------------------------------------------------------------

    def play_segment(self, row: int) -> None:
        segment = self.model.segment(row)
        self._play(segment.start, segment.end)

    def play_word(self, row: int, index: int) -> None:
        """Play from the word to the end of its segment."""
        segment = self.model.segment(row)
        self._play(segment.words[index].start, segment.end)

    def play_selected(self) -> None:
        if self.model.rowCount():
            self.play_segment(self.selected_row())

    def _play(self, start: float, end: float) -> None:
        if not self.audio_path:
            self.status.setText("Nothing to play: live audio from a microphone is not recorded.")
            return
        self.playing = True
        self.status.setText(f"Playing {start:.2f}–{end:.2f} s…")
        self.bridge.play_audio(self.audio_path, start, end)

    def stop_playback(self) -> None:
        self.bridge.stop_audio()

    def _on_position(self, seconds: float) -> None:
        if not self.playing:
            return
        found = word_at(self.model.segments(), seconds)
        if found is not None and found != self.current_word:
            self.current_word = found
            if found[0] != self.selected_row():
                self.table.selectRow(found[0])
            self.show_words()

    def _on_playback_stopped(self, error: str | None) -> None:
        self.playing = False
        self.current_word = None
        self.status.setText(error or "Stopped.")
        self.show_words()

    # -- edits ------------------------------------------------------------------------

    def split_selected(self) -> None:
        if self.model.rowCount():
            self.split_at(self.selected_row(), self.split_word)

    def split_at(self, row: int, word_index: int) -> None:
        try:
            first, second = split(self.model.segment(row), word_index)
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        self.model.replace_rows(row, 1, [first, second], "Split")
        self.table.selectRow(row)

    def merge_selected(self) -> None:
        self.merge_with_next(self.selected_row())

    def merge_with_next(self, row: int) -> None:
        if not 0 <= row < self.model.rowCount() - 1:
            self.status.setText("Nothing after this segment to merge with.")
            return
        merged = merge(self.model.segment(row), self.model.segment(row + 1))
        self.model.replace_rows(row, 2, [merged], "Merge")
        self.table.selectRow(row)

    def find_next(self) -> None:
        rows = find_rows(self.model.segments(), self.find_edit.text(), self.case_box.isChecked())
        if not rows:
            self.status.setText(f"{self.find_edit.text()!r} not found.")
            return
        after = [r for r in rows if r > self.selected_row()]
        self.table.selectRow((after or rows)[0])

    def replace_all(self, needle: str | None = None, replacement: str | None = None) -> int:
        """Replace in every segment as one undoable step; how many segments changed."""
        needle = self.find_edit.text() if needle is None else needle
        replacement = self.replace_edit.text() if replacement is None else replacement
        case = self.case_box.isChecked()
        rows = find_rows(self.model.segments(), needle, case)
        if rows:
            self.undo.beginMacro(f"Replace {needle!r}")
            for row in rows:
                changed = replace_text(self.model.segment(row), needle, replacement, case)
                self.model.replace_rows(row, 1, [changed], "Replace")
            self.undo.endMacro()
        self.status.setText(f"Replaced in {len(rows)} segment(s).")
        return len(rows)

    # -- saving -----------------------------------------------------------------------

    def formats(self) -> tuple[str, ...]:
        return tuple(f for f, box in self.format_boxes.items() if box.isChecked())

    def save(self) -> None:
        """Keep the edits in the job store and write the chosen formats again (engine side)."""
        self.status.setText("Saving…")
        if self.job_id != p.LIVE_TRANSCRIPT_ID:
            self.bridge.save_transcript(self.job_id, self.model.segments(), self.formats())
            return
        target = self.live_target or LiveTarget(Path.home() / "Voxtune", "live")
        self.bridge.save_live(
            str(target.folder), target.stem, self.formats(), target.rules, self.model.segments()
        )

    def _on_live_saved(self, outputs: tuple[str, ...]) -> None:
        self._on_saved(p.LIVE_TRANSCRIPT_ID, outputs)

    def _on_saved(self, job_id: int, outputs: tuple[str, ...]) -> None:
        if job_id != self.job_id:
            return
        self.outputs = outputs
        self.undo.setClean()
        self.status.setText("Saved: " + ", ".join(Path(o).name for o in outputs))
        self.saved.emit(outputs)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.playing:
            self.bridge.stop_audio()
        super().closeEvent(event)
