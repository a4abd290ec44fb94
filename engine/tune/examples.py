"""Turn checked rows into what the model eats: label tokens and encoder inputs.

With the encoder frozen its output for an utterance never changes, so it is computed once
and reused every epoch and every evaluation (FACTS.md: encoding costs more than an epoch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from voxtune.engine.tune.validation import SAMPLE_RATE, CheckedRow

if TYPE_CHECKING:
    from transformers import WhisperProcessor, WhisperTokenizer

ENCODE_BATCH = 8


@dataclass
class Example:
    audio_name: str
    text: str
    language: str | None  # set for multilingual models only
    labels: list[int]  # the full token sequence: prefix tokens, text, end of text
    features: torch.Tensor | None = None  # log-mel (when the encoder is trained)
    encoded: torch.Tensor | None = None  # encoder output (when the encoder is frozen)


def label_ids(
    tokenizer: WhisperTokenizer, text: str, language: str | None, multilingual: bool
) -> list[int]:
    """``<|startoftranscript|>[lang, transcribe]<|notimestamps|> text<|endoftext|>``."""
    if multilingual:
        tokenizer.set_prefix_tokens(language=language or "en", task="transcribe")
    tokenizer.set_prefix_tokens(predict_timestamps=False)
    # Whisper writes a space before the first word; train on what it will be asked to write.
    return list(tokenizer(" " + text.strip()).input_ids)


def build_examples(
    rows: list[CheckedRow],
    processor: WhisperProcessor,
    model: torch.nn.Module,
    *,
    encode: bool,
    multilingual: bool,
    default_language: str | None,
    device: str,
) -> list[Example]:
    examples = []
    for start in range(0, len(rows), ENCODE_BATCH):
        batch = rows[start : start + ENCODE_BATCH]
        features = processor.feature_extractor(
            [r.audio for r in batch], sampling_rate=SAMPLE_RATE, return_tensors="pt"
        ).input_features
        encoded = None
        if encode:
            with torch.no_grad():
                encoder = model.get_encoder()
                encoded = encoder(features.to(device, model.dtype)).last_hidden_state.cpu()
        for index, checked in enumerate(batch):
            language = checked.row.language or default_language
            examples.append(
                Example(
                    audio_name=checked.row.where,
                    text=checked.row.text,
                    language=(language or "en") if multilingual else None,
                    labels=label_ids(processor.tokenizer, checked.row.text, language, multilingual),
                    features=None if encode else features[index],
                    encoded=encoded[index] if encoded is not None else None,
                )
            )
    return examples


def collate(
    examples: list[Example], pad_id: int, device: str, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(encoder input, decoder input ids, target ids with -100 on padding)."""
    length = max(len(e.labels) for e in examples) - 1
    inputs = torch.full((len(examples), length), pad_id, dtype=torch.long)
    targets = torch.full((len(examples), length), -100, dtype=torch.long)
    for row, example in enumerate(examples):
        ids = torch.tensor(example.labels, dtype=torch.long)
        inputs[row, : len(ids) - 1] = ids[:-1]
        targets[row, : len(ids) - 1] = ids[1:]
    if examples[0].encoded is not None:
        source = torch.stack([e.encoded for e in examples])
    else:
        source = torch.stack([e.features for e in examples])
    return source.to(device, dtype), inputs.to(device), targets.to(device)
