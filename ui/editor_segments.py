"""What the transcript editor does to segments, as plain functions on the core dataclasses.

No Qt here: the editor's undo commands call these, and tests can check them without a window.
A word the user typed has confidence 1.0 (a person vouched for it); words keep their times
where the edit allows, and are spread over the segment where it does not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from voxtune.engine.types import Segment, Word

TYPED = 1.0  # the confidence of a word a person wrote


def spread_words(
    text: str, start: float, end: float, confidence: float = TYPED
) -> tuple[Word, ...]:
    """``text``'s words over [start, end] in proportion to their length."""
    pieces = [f" {w}" for w in text.split()]
    total = sum(len(p) for p in pieces) or 1
    words, at = [], start
    for piece in pieces:
        span = (end - start) * len(piece) / total
        words.append(Word(piece, round(at, 3), round(at + span, 3), confidence))
        at += span
    return tuple(words)


def retext(segment: Segment, text: str) -> Segment:
    """``segment`` saying ``text``; unchanged words keep their times and confidences."""
    text = " ".join(text.split())
    typed = text.split()
    if len(typed) == len(segment.words):
        words = tuple(
            w if w.text.strip() == t else Word(f" {t}", w.start, w.end, TYPED)
            for w, t in zip(segment.words, typed, strict=True)
        )
    elif segment.words:
        words = spread_words(text, segment.start, segment.end)
    else:
        words = ()
    return replace(segment, text=f" {text}" if text else "", words=words)


def retime(segment: Segment, start: float, end: float) -> Segment:
    """``segment`` moved to [start, end]; its words keep their places, scaled."""
    if end <= start:
        raise ValueError(f"a segment must end after it starts ({start:.3f} → {end:.3f})")
    old = segment.end - segment.start or 1.0

    def at(t: float) -> float:
        return round(start + (t - segment.start) * (end - start) / old, 3)

    words = tuple(replace(w, start=at(w.start), end=at(w.end)) for w in segment.words)
    return replace(segment, start=round(start, 3), end=round(end, 3), words=words)


def split(segment: Segment, word_index: int) -> tuple[Segment, Segment]:
    """Two segments: the words before ``word_index`` and from it on."""
    words = segment.words or spread_words(segment.text, segment.start, segment.end, 0.0)
    if not 0 < word_index < len(words):
        raise ValueError(f"cannot split a {len(words)}-word segment before word {word_index}")
    first, second = words[:word_index], words[word_index:]
    cut = second[0].start
    keep = bool(segment.words)
    return (
        replace(segment, end=cut, text="".join(w.text for w in first), words=first if keep else ()),
        replace(segment, start=cut, text="".join(w.text for w in second),
                words=second if keep else ()),
    )  # fmt: skip


def merge(first: Segment, second: Segment) -> Segment:
    text = f"{first.text.rstrip()} {second.text.strip()}".rstrip()
    return replace(
        first,
        end=max(first.end, second.end),
        text=text if text.startswith(" ") else f" {text}",
        words=first.words + second.words,
    )


def find_rows(segments: Sequence[Segment], needle: str, case: bool = False) -> list[int]:
    flags = 0 if case else re.IGNORECASE
    pattern = re.compile(re.escape(needle), flags)
    return [i for i, s in enumerate(segments) if needle and pattern.search(s.text)]


def replace_text(segment: Segment, needle: str, replacement: str, case: bool = False) -> Segment:
    flags = 0 if case else re.IGNORECASE
    changed = re.sub(re.escape(needle), lambda _: replacement, segment.text, flags=flags)
    return retext(segment, changed)


def word_at(segments: Sequence[Segment], seconds: float) -> tuple[int, int] | None:
    """(segment row, word index) being heard at ``seconds``; None between words."""
    for row, segment in enumerate(segments):
        if segment.start <= seconds <= segment.end:
            for index, word in enumerate(segment.words):
                if word.start <= seconds < word.end:
                    return row, index
    return None
