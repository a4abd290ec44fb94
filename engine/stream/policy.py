"""When a word stops being provisional: commit policies over consecutive hypotheses.

A streaming decoder re-reads a growing buffer and writes a fresh hypothesis each step. A
policy decides which of its words are final (committed: never change again) and which are
still provisional (the tentative tail, replaced by the next hypothesis).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Protocol

from voxtune.engine.types import Word

_NOT_WORD = re.compile(r"[^\w']+")


def comparable(text: str) -> str:
    """A word as hypotheses are compared: case, spacing and punctuation ignored."""
    return _NOT_WORD.sub("", text.casefold())


class CommitPolicy(Protocol):
    @property
    def committed(self) -> tuple[Word, ...]:
        """Every word committed so far, in order."""
        ...

    @property
    def tentative(self) -> tuple[Word, ...]:
        """The latest hypothesis's words after the committed ones."""
        ...

    def update(self, hypothesis: Sequence[Word], heard_until: float = math.inf) -> tuple[Word, ...]:
        """Take the newest hypothesis of the words after the committed ones, decoded from
        audio that ends at ``heard_until``; return those it commits now (always a prefix of
        ``hypothesis``)."""
        ...

    def flush(self) -> tuple[Word, ...]:
        """Commit the tentative words (the audio has ended); return them."""
        ...


class LocalAgreement:
    """LocalAgreement-n: commit the words that the last ``n`` hypotheses agree on.

    After Macháček et al., "Turning Whisper into Real-Time Transcription System" (2023): the
    longest common prefix of consecutive hypotheses, beyond what is already committed, is
    committed; with ``n=2`` a word is final once two decodes in a row say it.
    """

    def __init__(self, n: int = 2, margin: float = 0.0) -> None:
        if n < 2:
            raise ValueError(f"agreement needs at least 2 hypotheses, not {n}")
        self.n = n
        # A word ending closer than this to the end of the audio may be a word cut short
        # ("now" for "nouns"); two decodes can agree on the same wrong guess.
        self.margin = margin
        self._committed: list[Word] = []
        self._previous: list[tuple[Word, ...]] = []  # the last n-1 uncommitted tails

    @property
    def committed(self) -> tuple[Word, ...]:
        return tuple(self._committed)

    @property
    def tentative(self) -> tuple[Word, ...]:
        return self._previous[-1] if self._previous else ()

    def update(self, hypothesis: Sequence[Word], heard_until: float = math.inf) -> tuple[Word, ...]:
        history = [*self._previous, tuple(hypothesis)][-self.n :]
        agreed = 0
        if len(history) == self.n:
            for column in zip(*history, strict=False):
                if len({comparable(w.text) for w in column}) != 1:
                    break
                if column[-1].end > heard_until - self.margin:
                    break
                agreed += 1
        # The newest hypothesis heard the most audio, so its timing and confidence win.
        newly = history[-1][:agreed]
        self._committed.extend(newly)
        self._previous = [tail[agreed:] for tail in history][-(self.n - 1) :]
        return newly

    def flush(self) -> tuple[Word, ...]:
        rest = self.tentative
        self._committed.extend(rest)
        self._previous = []
        return rest
