"""The continuation decoder a model's family gives: what a live session decodes its buffer with.

Every family answers the same question (``StreamDecoder.decode``): the words heard in the
buffer after the committed ones, as token ids the stream hands back next step as prompt,
prefix and draft. So one streaming transcriber and one commit policy serve them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voxtune.engine.models import LoadedModel
from voxtune.engine.types import TranscriptionOptions, Word


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """What the model hears in the buffer after the prefix."""

    words: tuple[Word, ...]  # absolute times
    word_tokens: tuple[tuple[int, ...], ...]  # each word's token ids
    no_speech_prob: float
    draft_accepted: int  # draft tokens the model agreed with (paid in the one pass)
    generated: int  # tokens generated one at a time
    seconds: float  # wall time of the decode

    @property
    def tokens(self) -> list[int]:
        return [t for word in self.word_tokens for t in word]


class StreamDecoder(Protocol):
    def decode(
        self,
        audio: np.ndarray,
        offset: float,
        *,
        prompt: Sequence[int] = (),
        prefix: Sequence[int] = (),
        draft: Sequence[int] = (),
    ) -> Hypothesis:
        """Words in ``audio`` (``offset``: the time of its first sample) after ``prefix``
        (committed, in the buffer), with ``prompt`` (committed, before it) as context and
        ``draft`` (last step's tentative words) checked in one pass."""
        ...


def make_continuation_decoder(
    loaded: LoadedModel, options: TranscriptionOptions, aligner: LoadedModel | None = None
) -> StreamDecoder:
    """``aligner``: a forced aligner that times the words of a family that takes one (the
    others time their own, and refuse it)."""
    from voxtune.engine.families.table import family_of

    return family_of(loaded.info).stream_decoder(loaded, options, aligner)
