"""Cutting a transcript into subtitle cues.

Segment ends and long pauses always end a cue. Inside what is left, the cut points are
chosen together (dynamic programming over word boundaries) so that every cue fits the
rules and the cuts fall, by preference, after a sentence, after a clause, in a pause, and
otherwise where they leave cues of similar size.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

from voxtune.engine.subtitles.line_breaks import GreedyFill, balanced_lines
from voxtune.engine.subtitles.rules import DEFAULT_RULES, Cue, SubtitleRules
from voxtune.engine.subtitles.words import (
    SENTENCE_END,
    audio_end,
    ending_punctuation,
    segment_words,
)
from voxtune.engine.types import Transcript, Word

# Costs in "cues": each cue costs 1, so a cut at a sentence end is free, one after a clause
# is worth half a cue, and a cut with no reason at all is worth two — a sentence-true
# three-cue split beats a two-cue split in mid-phrase.
_CUE_COST = 1.0
_CLAUSE_CUT = 0.5
_PLAIN_CUT = 2.0
_PAUSE_RELIEF = 1.25  # taken off a plain cut in proportion to the pause (up to pause_split)
_FILL_WEIGHT = 0.5  # squared fill of each cue: among equal cuts, prefer even cue sizes
_SHORT_WEIGHT = 0.5  # a cue spoken in less than min_duration
# A cue holding the end of one sentence and part of the next reads badly ("Thank you.
# Please stay on the line and an", "4242. That user is configured to ring the"): worth
# more than an extra cue to avoid. Whole sentences sharing a cue are fine.
_STRADDLE = 1.5


def make_cues(transcript: Transcript, rules: SubtitleRules = DEFAULT_RULES) -> list[Cue]:
    """The transcript's words as cues that keep every rule in ``rules``.

    Cues are in time order, never overlap, and lie inside [0, audio duration].
    """
    groups: list[tuple[Word, ...]] = []
    for words in segment_words(transcript, rules.max_line_chars):
        for run in _pause_runs(words, rules.pause_split):
            groups.extend(_cut(run, rules))
    return _timed(groups, audio_end(transcript), rules)


def _pause_runs(words: list[Word], pause_split: float) -> Iterator[list[Word]]:
    run = [words[0]]
    for previous, word in itertools.pairwise(words):
        if word.start - previous.end >= pause_split:
            yield run
            run = []
        run.append(word)
    yield run


def _cut(run: Sequence[Word], rules: SubtitleRules) -> list[tuple[Word, ...]]:
    """The run split into cues at the cheapest set of cut points (see the costs above)."""
    n = len(run)
    texts = [w.text for w in run]
    # at_sentence[k]: a cue may start at word k / end before it without splitting a sentence
    at_sentence = [True, *(ending_punctuation(t) in SENTENCE_END for t in texts[:-1]), True]
    capacity = rules.max_line_chars * rules.max_lines
    best = [math.inf] * (n + 1)
    back = [0] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        if best[i] == math.inf:
            continue
        fill = GreedyFill(rules.max_line_chars)
        chars = 0
        sentence_inside = False  # a sentence ends before the cue's last word
        for j in range(i + 1, n + 1):
            if j > i + 1:
                sentence_inside |= at_sentence[j - 1]
            fill.add(texts[j - 1])
            chars += len(texts[j - 1])
            span = run[j - 1].end - run[i].start
            # A single word always gets a cue, however long it is spoken.
            if j > i + 1 and (fill.lines > rules.max_lines or span > rules.max_duration):
                break
            cost = (
                best[i]
                + _CUE_COST
                + _FILL_WEIGHT * (chars / capacity) ** 2
                + _short_cost(span, rules.min_duration)
                + (_cut_cost(run, j, rules.pause_split) if j < n else 0.0)
            )
            if sentence_inside and not (at_sentence[i] and at_sentence[j]):
                cost += _STRADDLE
            if cost < best[j]:
                best[j], back[j] = cost, i
    cuts, j = [], n
    while j > 0:
        cuts.append(j)
        j = back[j]
    starts = [0, *cuts[::-1]]
    return [tuple(run[a:b]) for a, b in itertools.pairwise(starts)]


def _cut_cost(run: Sequence[Word], j: int, pause_split: float) -> float:
    """The cost of ending a cue after word j-1."""
    mark = ending_punctuation(run[j - 1].text)
    if mark:
        return 0.0 if mark in SENTENCE_END else _CLAUSE_CUT
    pause = max(run[j].start - run[j - 1].end, 0.0)
    return _PLAIN_CUT - _PAUSE_RELIEF * min(pause / pause_split, 1.0)


def _short_cost(span: float, min_duration: float) -> float:
    if min_duration <= 0 or span >= min_duration:
        return 0.0
    return _SHORT_WEIGHT * (1.0 - span / min_duration)


def _timed(groups: list[tuple[Word, ...]], bound: float, rules: SubtitleRules) -> list[Cue]:
    """Cues with their final times: short ones stretched into the silence that follows.

    Word times are already monotonic and inside the audio, so cue i ends before cue i+1
    starts; only ``min_gap`` can make a cue end earlier than its last word.
    """
    cues = []
    for index, words in enumerate(groups):
        start, end = words[0].start, max(w.end for w in words)
        limit = bound
        if index + 1 < len(groups):
            next_start = groups[index + 1][0].start
            limit = next_start - rules.min_gap
            if limit <= start:
                # No room for the gap: keep the cues apart, and this one visible if it can be.
                limit = (start + next_start) / 2
        end = min(end, limit)
        if end - start < rules.min_duration:
            end = max(end, min(start + rules.min_duration, limit))
        lines = balanced_lines([w.text for w in words], rules.max_line_chars, rules.max_lines)
        if lines is None:  # _cut only makes groups that fit; this would be a bug there
            raise AssertionError(f"cue does not fit the rules: {words!r}")
        cues.append(Cue(round(start, 3), round(end, 3), lines, words))
    return cues
