"""The editor colours a segment by its words' mean confidence and names the least sure word."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from pytestqt.qtbot import QtBot

from voxtune.engine.types import Segment, Word
from voxtune.ui.confidence import band_for, colour_for
from voxtune.ui.editor_model import SegmentTableModel


def test_one_doubtful_word_does_not_turn_a_sure_sentence_red(qtbot: QtBot) -> None:
    words = (Word(" Cats", 0.0, 0.3, 0.97), Word(" purr", 0.3, 0.6, 0.95),
             Word(" loudly", 0.6, 1.0, 0.40))  # fmt: skip
    model = SegmentTableModel([Segment(0.0, 1.0, "Cats purr loudly", words)], QUndoStack())
    text = model.index(0, 2)
    colour = model.data(text, Qt.ItemDataRole.ForegroundRole).name()
    assert band_for(0.77).name != band_for(0.40).name  # the mean's band, not the minimum's
    assert colour == colour_for(0.77, dark=False) != colour_for(0.40, dark=False)
    tip = model.data(text, Qt.ItemDataRole.ToolTipRole)
    assert tip == f"words 77% sure on average ({band_for(0.77).name}); least sure: 'loudly' 40%"
