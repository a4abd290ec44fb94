"""What a tune trains on and evaluates: one ``Example`` per checked row, for every family.

Each family fills the fields its model eats (see ``family.TuneFamily``). With the encoder
frozen its output for an utterance never changes, so it is computed once and reused every
epoch (FACTS.md: encoding costs more than an epoch of training).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

ENCODE_BATCH = 8


@dataclass
class Example:
    audio_name: str
    text: str
    language: str | None  # the language the model is told or taught (None: English-only Whisper)
    labels: list[int]  # Whisper: prefix, text, end; Qwen3-ASR: the answer after the prompt
    features: torch.Tensor | None = None  # log-mel (when the encoder is trained)
    encoded: torch.Tensor | None = None  # encoder output (when the encoder is frozen)
    prompt: list[int] = field(default_factory=list)  # Qwen3-ASR: chat prompt, audio slots
    features_mask: torch.Tensor | None = None  # Qwen3-ASR: valid mel frames
    audio: np.ndarray | None = None  # kept where evaluation decodes from the audio itself
    audio_path: str = ""  # the row's file (the wizard plays the worst utterances)

    @property
    def length(self) -> int:
        """Tokens the decoder reads: what length-bucketed batches sort by."""
        return len(self.prompt) + len(self.labels)


def language_batches(examples: list[Example], size: int) -> list[list[int]]:
    """Index batches holding one language each (multilingual models are told it)."""
    by_language: dict[str | None, list[int]] = {}
    for index, example in enumerate(examples):
        by_language.setdefault(example.language, []).append(index)
    return [
        indices[start : start + size]
        for indices in by_language.values()
        for start in range(0, len(indices), size)
    ]
