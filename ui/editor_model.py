"""The editor's segments as a table model, changed only through undoable commands.

Every edit (text, times, split, merge, replace) is one ``ReplaceRows``: rows [row, row+count)
become new segments. Undo puts the old ones back, so one command class serves them all.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QUndoCommand, QUndoStack

from voxtune.engine.types import Segment
from voxtune.ui.confidence import band_for, colour_for
from voxtune.ui.editor_segments import retext, retime

COLUMNS: tuple[str, ...] = ("Start", "End", "Text")
Index = QModelIndex | QPersistentModelIndex


def format_time(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:06.3f}"


def parse_time(text: str) -> float:
    """ "1:02.500", "62.5" → 62.5; ValueError for anything else."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"not a time: {text!r}")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    if seconds < 0:
        raise ValueError(f"not a time: {text!r}")
    return seconds


def segment_confidence(segment: Segment) -> float | None:
    """The row's colour: its words' mean confidence. Their minimum would colour nearly every
    row "unsure" (one doubtful word in a sentence is the rule), telling the eye nothing."""
    if not segment.words:
        return None
    return sum(w.confidence for w in segment.words) / len(segment.words)


def confidence_tooltip(segment: Segment) -> str:
    mean = segment_confidence(segment) or 0.0
    least = min(segment.words, key=lambda w: w.confidence)
    return (
        f"words {mean:.0%} sure on average ({band_for(mean).name}); "
        f"least sure: {least.text.strip()!r} {least.confidence:.0%}"
    )


class SegmentTableModel(QAbstractTableModel):
    def __init__(self, segments: Sequence[Segment], undo: QUndoStack) -> None:
        super().__init__()
        self._segments = list(segments)
        self.undo = undo
        self.dark = False  # which confidence palette the view's background wants

    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segments)

    def segment(self, row: int) -> Segment:
        return self._segments[row]

    # -- reading ------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._segments)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return COLUMNS[section] if orientation == Qt.Orientation.Horizontal else section + 1

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        segment = self._segments[index.row()]
        column = COLUMNS[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == "Start":
                return format_time(segment.start)
            if column == "End":
                return format_time(segment.end)
            return segment.text.strip()
        confidence = segment_confidence(segment)
        if confidence is None:
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column == "Text":
            return QColor(colour_for(confidence, self.dark))
        if role == Qt.ItemDataRole.ToolTipRole:
            return confidence_tooltip(segment)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return super().flags(index) | Qt.ItemFlag.ItemIsEditable

    # -- editing ------------------------------------------------------------------------

    def setData(self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row, column = index.row(), COLUMNS[index.column()]
        segment = self._segments[row]
        try:
            if column == "Text":
                changed = retext(segment, str(value))
            elif column == "Start":
                changed = retime(segment, parse_time(str(value)), segment.end)
            else:
                changed = retime(segment, segment.start, parse_time(str(value)))
        except ValueError:
            return False  # the delegate keeps the old value; a bad time changes nothing
        if changed == segment:
            return False
        self.undo.push(ReplaceRows(self, row, 1, [changed], f"Edit {column.lower()}"))
        return True

    def replace_rows(self, row: int, count: int, segments: Sequence[Segment], label: str) -> None:
        """Rows [row, row + count) become ``segments``, as one undoable step."""
        self.undo.push(ReplaceRows(self, row, count, list(segments), label))

    def _swap(self, row: int, count: int, segments: list[Segment]) -> list[Segment]:
        old = self._segments[row : row + count]
        if count == len(segments):
            self._segments[row : row + count] = segments
            last = self.index(row + count - 1, len(COLUMNS) - 1)
            self.dataChanged.emit(self.index(row, 0), last)
            return old
        self.beginResetModel()  # splits and merges change the row count
        self._segments[row : row + count] = segments
        self.endResetModel()
        return old


class ReplaceRows(QUndoCommand):
    def __init__(
        self, model: SegmentTableModel, row: int, count: int, new: list[Segment], label: str
    ) -> None:
        super().__init__(label)
        self._model = model
        self._row = row
        self._count = count
        self._new = new
        self._old: list[Segment] = []

    def redo(self) -> None:
        self._old = self._model._swap(self._row, self._count, self._new)

    def undo(self) -> None:
        self._model._swap(self._row, len(self._new), self._old)
