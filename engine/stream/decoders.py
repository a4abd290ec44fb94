"""The continuation decoder for a model's family: what a live session decodes its buffer with.

Every family answers the same question (``StreamDecoder.decode``): the words heard in the
buffer after the committed ones, as token ids the stream hands back next step as prompt,
prefix and draft. So one streaming transcriber and one commit policy serve them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.continuation import Qwen3ContinuationDecoder
from voxtune.engine.families.qwen3_asr.layout import FORCED_ALIGNER, QWEN3_ASR
from voxtune.engine.families.whisper.continuation import ContinuationDecoder, Hypothesis
from voxtune.engine.models import LoadedModel
from voxtune.engine.types import TranscriptionOptions


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
    """``aligner``: a Qwen3-ForcedAligner that times a Qwen3-ASR model's words (Whisper times
    its own from cross-attention)."""
    family = loaded.info.family
    if family == QWEN3_ASR:
        return Qwen3ContinuationDecoder(loaded, options, aligner)
    if family == FORCED_ALIGNER:
        raise ModelError(
            f"{loaded.info.name}: a forced aligner times words but does not transcribe "
            "(pass it as --aligner with a Qwen3-ASR model)"
        )
    if aligner is not None:
        raise ModelError(
            f"{aligner.info.name}: a forced aligner times Qwen3-ASR words; "
            f"{loaded.info.name} times its own"
        )
    return ContinuationDecoder(loaded, options)
