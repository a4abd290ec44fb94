"""Words ready for cue building: clean text, times inside the audio, never overlapping.

Models give word times that can overlap, run past the end of the audio or be missing
altogether (segment-level times only); the cue builder relies on none of that happening.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from voxtune.engine.types import Segment, Transcript, Word

SENTENCE_END = frozenset(".?!…。？！")
CLAUSE_END = frozenset(",;:、，；：")
# Closing quotes and brackets may follow the punctuation that ends a sentence: 'said "no."'
_CLOSERS = "\"')]}»”’」』）"
_CJK_PUNCTUATION = "。！？、，；："
# Text without word timings is cut at spaces, and after CJK punctuation for scripts without them.
_TEXT_TOKEN = re.compile(
    rf"\s*(?:[^\s{_CJK_PUNCTUATION}]+[{_CJK_PUNCTUATION}]*|[{_CJK_PUNCTUATION}]+)"
)
_SPACES = re.compile(r"\s+")


def ending_punctuation(text: str) -> str:
    """The punctuation mark a word ends with, looking past closing quotes; '' if none."""
    core = text.rstrip().rstrip(_CLOSERS)
    return core[-1] if core and (core[-1] in SENTENCE_END or core[-1] in CLAUSE_END) else ""


def audio_end(transcript: Transcript) -> float:
    """The latest time a cue may reach, on the millisecond grid (rounded down, never past it).

    That is the audio duration, or the last time the transcript knows when it has none.
    """
    end = transcript.duration
    if not (math.isfinite(end) and end > 0):
        times = [s.end for s in transcript.segments] + [w.end for w in transcript.words]
        end = max((t for t in times if math.isfinite(t) and t > 0), default=0.0)
    return math.floor(end * 1000 + 1e-6) / 1000


def display_text(text: str) -> str:
    """The word as shown: inner whitespace collapsed, one leading space kept if it had any."""
    core = _SPACES.sub(" ", text.strip())
    return f" {core}" if core and text[:1].isspace() else core


def segment_words(transcript: Transcript, max_chars: int) -> Iterator[list[Word]]:
    """Each segment's words, in order, with times on the millisecond grid of the output.

    Times are clamped into [0, audio end] and pushed forward so that no word starts before
    the previous one ends; words longer than ``max_chars`` arrive cut into pieces.
    """
    bound = audio_end(transcript)
    previous_end = 0.0
    for segment in transcript.segments:
        words: list[Word] = []
        for word in segment.words or words_from_text(segment):
            text = display_text(word.text)
            if not text:
                continue
            start = _clamp(word.start, previous_end, bound)
            end = _clamp(word.end, start, bound)
            words.extend(_line_sized(Word(text, start, end, word.confidence), max_chars))
            previous_end = end
        if words:
            yield words


def words_from_text(segment: Segment) -> list[Word]:
    """Words for a segment that has only text and times: time shared out by characters."""
    tokens = _TEXT_TOKEN.findall(segment.text)
    confidence = math.exp(segment.avg_logprob) if math.isfinite(segment.avg_logprob) else 0.0
    return _spread(tokens, segment.start, segment.end, min(max(confidence, 0.0), 1.0))


def _line_sized(word: Word, max_chars: int) -> list[Word]:
    """A word that cannot fit on one line (a URL, unspaced CJK text) cut into line-sized parts."""
    core = word.text.lstrip()
    if len(core) <= max_chars:
        return [word]
    pieces = [core[i : i + max_chars] for i in range(0, len(core), max_chars)]
    if word.text != core:
        pieces[0] = " " + pieces[0]
    return _spread(pieces, word.start, word.end, word.confidence)


def _spread(texts: list[str], start: float, end: float, confidence: float) -> list[Word]:
    total = sum(len(t.strip()) for t in texts)
    if not total:
        return []
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        end = start
    words, done = [], 0
    for text in texts:
        word_start = start + (end - start) * done / total
        done += len(text.strip())
        word_end = start + (end - start) * done / total
        words.append(Word(text, round(word_start, 3), round(word_end, 3), confidence))
    return words


def _clamp(time: float, low: float, high: float) -> float:
    """A time on the millisecond grid in [low, high] (both on the grid); missing becomes low."""
    if not math.isfinite(time):
        return low
    return min(max(round(time, 3), low), max(low, high))
