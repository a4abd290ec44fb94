"""Breaking a cue's words into lines: as few lines as fit, of similar length.

Words are display texts (" word", or "word" in scripts written without spaces), each at
most a line long; lines break only between words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voxtune.engine.subtitles.words import SENTENCE_END, ending_punctuation

# A break after punctuation may cost this much imbalance (squared deviation from the mean
# line, in line widths): a sentence end is worth a 20/40 split of a 42-character line, a
# comma a little less.
_SENTENCE_BREAK_BONUS = 0.12
_CLAUSE_BREAK_BONUS = 0.06


@dataclass(slots=True)
class GreedyFill:
    """The fewest lines a run of words needs, counted word by word as the run grows."""

    max_chars: int
    lines: int = 0
    current: int = 0  # characters on the last line

    def add(self, text: str) -> None:
        if self.lines and self.current + len(text) <= self.max_chars:
            self.current += len(text)
        else:
            self.lines += 1
            self.current = len(text.lstrip())


def line_text(texts: Sequence[str]) -> str:
    return "".join(texts).strip()


def balanced_lines(texts: Sequence[str], max_chars: int, max_lines: int) -> tuple[str, ...] | None:
    """The words laid out in the fewest lines, balanced; None when they need over max_lines."""
    fill = GreedyFill(max_chars)
    for text in texts:
        fill.add(text)
    if fill.lines > max_lines:
        return None
    if fill.lines <= 1:
        return (line_text(texts),)
    ends = _best_line_ends(texts, max_chars, fill.lines)
    starts = [0, *ends[:-1]]
    return tuple(line_text(texts[a:b]) for a, b in zip(starts, ends, strict=True))


def _best_line_ends(texts: Sequence[str], max_chars: int, line_count: int) -> list[int]:
    """End index of each line, minimising imbalance less the bonus for breaks at punctuation."""
    n = len(texts)
    prefix = [0]
    for text in texts:
        prefix.append(prefix[-1] + len(text))

    def width(a: int, b: int) -> int:
        return prefix[b] - prefix[a] - (len(texts[a]) - len(texts[a].lstrip()))

    mean = width(0, n) / line_count
    inf = float("inf")
    # cost[k][j]: best cost of putting words [0, j) on k lines; back[k][j]: where line k starts
    cost = [[inf] * (n + 1) for _ in range(line_count + 1)]
    back = [[0] * (n + 1) for _ in range(line_count + 1)]
    cost[0][0] = 0.0
    for k in range(1, line_count + 1):
        for j in range(k, n + 1):
            bonus = _break_bonus(texts[j - 1]) if j < n else 0.0
            for i in range(j - 1, k - 2, -1):
                line = width(i, j)
                if line > max_chars:
                    break
                if cost[k - 1][i] == inf:
                    continue
                total = cost[k - 1][i] + ((line - mean) / max_chars) ** 2 - bonus
                if total < cost[k][j]:
                    cost[k][j], back[k][j] = total, i
    ends, j = [], n
    for k in range(line_count, 0, -1):
        ends.append(j)
        j = back[k][j]
    return ends[::-1]


def _break_bonus(last_word: str) -> float:
    mark = ending_punctuation(last_word)
    if not mark:
        return 0.0
    return _SENTENCE_BREAK_BONUS if mark in SENTENCE_END else _CLAUSE_BREAK_BONUS
