"""Validation WER by batched greedy decoding, reusing cached encoder outputs when frozen."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from voxtune.engine.evaluation import normalize_text, word_error_rate
from voxtune.engine.tune.events import WorstUtterance
from voxtune.engine.tune.examples import Example

if TYPE_CHECKING:
    from transformers import WhisperForConditionalGeneration, WhisperTokenizer

EVAL_BATCH = 16
MAX_NEW_TOKENS = 128


def transcribe_examples(
    whisper: WhisperForConditionalGeneration,
    tokenizer: WhisperTokenizer,
    examples: list[Example],
    device: str,
    dtype: torch.dtype,
) -> list[str]:
    """Greedy transcripts of ``examples``, in order."""
    from transformers.modeling_outputs import BaseModelOutput

    whisper.eval()
    texts: dict[int, str] = {}
    with torch.no_grad():
        for indices in _batches(examples):
            batch = [examples[i] for i in indices]
            if batch[0].encoded is not None:
                hidden = torch.stack([e.encoded for e in batch]).to(device, dtype)
            else:
                features = torch.stack([e.features for e in batch]).to(device, dtype)
                hidden = whisper.get_encoder()(features).last_hidden_state
            language = {"language": batch[0].language} if batch[0].language else {}
            generated = whisper.generate(
                encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                max_new_tokens=MAX_NEW_TOKENS,
                **language,
            )
            decoded = tokenizer.batch_decode(generated, skip_special_tokens=True)
            texts.update({i: text.strip() for i, text in zip(indices, decoded, strict=True)})
    return [texts[i] for i in range(len(examples))]


def _batches(examples: list[Example]) -> list[list[int]]:
    """Index batches holding one language each (multilingual models are told it)."""
    by_language: dict[str | None, list[int]] = {}
    for index, example in enumerate(examples):
        by_language.setdefault(example.language, []).append(index)
    return [
        indices[start : start + EVAL_BATCH]
        for indices in by_language.values()
        for start in range(0, len(indices), EVAL_BATCH)
    ]


def score(
    examples: list[Example], hypotheses: list[str], worst: int
) -> tuple[float, tuple[WorstUtterance, ...]]:
    """Corpus WER and the ``worst`` utterances (normalised reference and hypothesis)."""
    wer = word_error_rate([e.text for e in examples], hypotheses)
    scored = [
        WorstUtterance(
            e.audio_name, normalize_text(e.text), normalize_text(h), word_error_rate([e.text], [h])
        )
        for e, h in zip(examples, hypotheses, strict=True)
    ]
    scored.sort(key=lambda w: -w.wer)
    return wer, tuple(w for w in scored[:worst] if w.wer > 0)
