"""Joining the words of two overlapping chunks without repeating or losing any.

Both chunks transcribed the shared seconds, so the end of the first chunk's words and the
start of the second's should contain the same run of words. The longest run of equal
normalised words found there is where they meet; the cut goes through its middle, where both
chunks heard the most context. When no run is found (one side misheard, or the overlap holds
no speech) the cut falls at the overlap's midpoint, estimating word positions by spreading
each chunk's words evenly over its time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# One shared word ("the") is as likely chance as agreement; two in a row are evidence.
MIN_RUN_WORDS = 2
# Words are not spread evenly in time: look a little beyond the overlap's share of words.
SEARCH_SLACK = 1.5
SEARCH_EXTRA_WORDS = 3


@dataclass(frozen=True)
class Cut:
    keep: int  # words of the earlier chunk kept: ``previous[:keep]``
    skip: int  # words of the later chunk dropped: ``following[skip:]``
    matched: int  # length of the common run the cut goes through; 0: cut at the midpoint


def normalise(word: str) -> str:
    """What two transcriptions of one word share: letters and digits, in lower case."""
    return "".join(c for c in word.casefold() if c.isalnum())


def _search_length(count: int, share: float) -> int:
    return min(count, math.ceil(count * share * SEARCH_SLACK) + SEARCH_EXTRA_WORDS)


def longest_common_run(first: Sequence[str], second: Sequence[str]) -> tuple[int, int, int]:
    """(start in ``first``, start in ``second``, length) of the longest run of equal words.

    Empty strings never match (a word of punctuation only says nothing about alignment).
    Of equally long runs, the one earliest in ``first`` wins.
    """
    best = (0, 0, 0)
    previous_row = [0] * (len(second) + 1)
    for i, a in enumerate(first, start=1):
        row = [0] * (len(second) + 1)
        for j, b in enumerate(second, start=1):
            if a and a == b:
                row[j] = previous_row[j - 1] + 1
                if row[j] > best[2]:
                    best = (i - row[j], j - row[j], row[j])
        previous_row = row
    return best


def merge_overlap(
    previous: Sequence[str],
    following: Sequence[str],
    previous_share: float,
    following_share: float,
) -> Cut:
    """Where to join ``previous[:keep] + following[skip:]``.

    ``previous_share`` is the fraction of the earlier chunk's duration that the overlap takes
    (at its end), ``following_share`` the same for the later chunk (at its start).
    """
    tail_length = _search_length(len(previous), previous_share)
    head_length = _search_length(len(following), following_share)
    tail_start = len(previous) - tail_length
    tail = [normalise(w) for w in previous[tail_start:]]
    head = [normalise(w) for w in following[:head_length]]
    i, j, length = longest_common_run(tail, head)
    if length >= MIN_RUN_WORDS:
        half = length // 2
        return Cut(keep=tail_start + i + half, skip=j + half, matched=length)
    keep = round(len(previous) * (1.0 - previous_share / 2))
    skip = round(len(following) * following_share / 2)
    return Cut(keep=keep, skip=skip, matched=0)
