"""The live transcript cut into the editor's segments: at a sentence's end or a long pause."""

from __future__ import annotations

from voxtune.engine.process.live_transcript import PAUSE_S, sentences
from voxtune.engine.types import Word


def test_words_are_cut_after_sentence_ends_and_long_pauses() -> None:
    words = [
        Word(" It", 0.0, 0.2, 0.9), Word(" rained.", 0.2, 0.6, 0.9),  # a sentence ends
        Word(" We", 0.7, 0.9, 0.9), Word(" stayed", 0.9, 1.2, 0.9),
        Word(" in", 1.2 + PAUSE_S, 1.5 + PAUSE_S, 0.9),  # a pause, no punctuation
        Word(" all", 1.6 + PAUSE_S, 1.8 + PAUSE_S, 0.9),
    ]  # fmt: skip
    cut = sentences(words)
    assert [s.text for s in cut] == ["It rained.", "We stayed", "in all"]
    assert [(s.start, s.end) for s in cut] == [(0.0, 0.6), (0.7, 1.2), (2.2, 2.8)]
    assert sum(len(s.words) for s in cut) == len(words)
