"""The live transcript: committed words coloured by confidence, the partial tail provisional.

Each word is an anchor (``c<i>`` committed, ``p<i>`` partial) so the tooltip can name the
word under the pointer with its confidence and times.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QHelpEvent, QTextCharFormat
from PySide6.QtWidgets import QTextBrowser, QToolTip, QWidget

from voxtune.engine.types import Segment, Transcript, Word
from voxtune.ui.confidence import band_for, colour_for, is_dark, partial_colour


@dataclass(frozen=True, slots=True)
class RenderedWord:
    text: str
    colour: str  # "#rrggbb" as drawn
    provisional: bool


def word_tooltip(word: Word, provisional: bool) -> str:
    head = "provisional — may still change" if provisional else band_for(word.confidence).name
    return (
        f"“{word.text.strip()}”: {head}\n"
        f"confidence {word.confidence:.0%}, {word.start:.2f}–{word.end:.2f} s"
    )


class TranscriptView(QTextBrowser):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setPlaceholderText("Press Start (or Space) and speak; words appear here.")
        self.committed: list[Word] = []
        self.partial: tuple[Word, ...] = ()

    def apply_update(self, committed: tuple[Word, ...], partial: tuple[Word, ...]) -> None:
        self.committed.extend(committed)
        self.partial = partial
        self.render()

    def clear_words(self) -> None:
        self.committed.clear()
        self.partial = ()
        self.render()

    def text(self) -> str:
        return "".join(w.text for w in self.committed).strip()

    def transcript(self, model: str = "live") -> Transcript:
        """The committed words as one segment, for the subtitle writers."""
        words = tuple(self.committed)
        if not words:
            return Transcript(segments=(), language=None, duration=0.0, model=model)
        segment = Segment(start=words[0].start, end=words[-1].end, text=self.text(), words=words)
        return Transcript(segments=(segment,), language=None, duration=words[-1].end, model=model)

    def render(self) -> None:
        dark = is_dark(self.palette().base().color())
        parts = [self._anchor(f"c{i}", w, colour_for(w.confidence, dark), False, i > 0)
                 for i, w in enumerate(self.committed)]  # fmt: skip
        parts += [self._anchor(f"p{i}", w, partial_colour(dark), True, bool(parts) or i > 0)
                  for i, w in enumerate(self.partial)]  # fmt: skip
        self.setHtml(f"<p style='font-size: 14pt'>{''.join(parts)}</p>")
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    @staticmethod
    def _anchor(name: str, word: Word, colour: str, provisional: bool, spaced: bool) -> str:
        # Leading spaces sit outside the anchor, so underlines don't run between words.
        text = html.escape(word.text)
        stripped = text.lstrip()
        space = " " if spaced and len(stripped) < len(text) else ""
        style = f"color:{colour}; text-decoration:none;"
        if provisional:
            style = f"color:{colour}; font-style:italic; text-decoration:underline;"
        return f"{space}<a href='{name}' style='{style}'>{stripped}</a>"

    def rendered_words(self) -> list[RenderedWord]:
        """The words as the document draws them (what a reader sees), for checks."""
        words: list[RenderedWord] = []
        block = self.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                fmt: QTextCharFormat = fragment.charFormat()
                if fmt.isAnchor() and fragment.text().strip():
                    words.append(
                        RenderedWord(
                            text=fragment.text(),
                            colour=fmt.foreground().color().name(),
                            provisional=fmt.fontItalic(),
                        )
                    )
                it += 1
            block = block.next()
        return words

    def word_at(self, pos: QPoint) -> tuple[Word, bool] | None:
        """The word under ``pos`` (viewport coordinates) and whether it is provisional."""
        anchor = self.anchorAt(pos)
        if len(anchor) < 2 or anchor[0] not in "cp" or not anchor[1:].isdigit():
            return None
        index, provisional = int(anchor[1:]), anchor[0] == "p"
        words = self.partial if provisional else self.committed
        return (words[index], provisional) if index < len(words) else None

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # the theme changed: recolour for it
            self.render()

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            found = self.word_at(event.pos())
            if found is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), word_tooltip(*found), self.viewport())
            return True
        return super().viewportEvent(event)
