"""Whisper's side of a tune: label tokens, cached encoder outputs, batched greedy evaluation."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch

from voxtune.engine.tune.examples import ENCODE_BATCH, Example, language_batches
from voxtune.engine.tune.validation import SAMPLE_RATE, CheckedRow
from voxtune.kernels.dispatch import chunked_loss_head, vocabulary_loss

if TYPE_CHECKING:
    from transformers import WhisperTokenizer

    from voxtune.engine.models import LoadedModel

PROMPT_TOKENS = 4  # start of transcript, language, task, no-timestamps
EVAL_BATCH = 16
MAX_NEW_TOKENS = 128


class WhisperFamily:
    part_prefixes: ClassVar[dict[str, tuple[str, ...]]] = {
        "decoder": ("decoder.",),
        "encoder": ("encoder.",),
    }
    # Module names as transformers' Whisper (and most speech seq2seq models) call them.
    lora_targets: ClassVar[dict[str, tuple[str, ...]]] = {
        "attention": ("q_proj", "k_proj", "v_proj", "out_proj"),
        "attention+mlp": ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"),
    }

    def __init__(self, loaded: LoadedModel) -> None:
        self.processor = loaded.processor
        self.tokenizer = loaded.processor.tokenizer
        self.multilingual = loaded.info.multilingual
        self.max_positions = loaded.model.config.max_target_positions

    def max_text_tokens(self) -> int:
        return self.max_positions - PROMPT_TOKENS - 1

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(" " + text, add_special_tokens=False).input_ids)

    def language_problem(self, language: str) -> str | None:
        from transformers.models.whisper.tokenization_whisper import LANGUAGES, TO_LANGUAGE_CODE

        if not self.multilingual:
            return None  # an English-only model is never told a language
        known = language.lower() in LANGUAGES or language.lower() in TO_LANGUAGE_CODE
        return None if known else f"language {language!r} is not one Whisper knows"

    def build_examples(
        self,
        rows: list[CheckedRow],
        model: torch.nn.Module,
        *,
        encode: bool,
        default_language: str | None,
        device: str,
    ) -> list[Example]:
        examples = []
        for start in range(0, len(rows), ENCODE_BATCH):
            batch = rows[start : start + ENCODE_BATCH]
            features = self.processor.feature_extractor(
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
                        audio_path=str(checked.row.audio),
                        text=checked.row.text,
                        language=(language or "en") if self.multilingual else None,
                        labels=label_ids(
                            self.tokenizer, checked.row.text, language, self.multilingual
                        ),
                        features=None if encode else features[index],
                        encoded=encoded[index] if encoded is not None else None,
                    )
                )
        return examples

    def loss_tokens(self, example: Example) -> int:
        """Target tokens ``loss`` averages over for this example (labels shifted by one)."""
        return len(example.labels) - 1

    def loss(
        self, model: torch.nn.Module, batch: list[Example], device: str, dtype: torch.dtype
    ) -> torch.Tensor:
        source, inputs, targets = collate(batch, self.tokenizer.eos_token_id, device, dtype)
        head = chunked_loss_head(model, device)  # kernels on: no full logits (51,865 tokens)
        forward = model if head is None else model.model
        if batch[0].encoded is not None:
            outputs = forward(encoder_outputs=(source,), decoder_input_ids=inputs)
        else:
            outputs = forward(input_features=source, decoder_input_ids=inputs)
        if head is not None:
            return vocabulary_loss(head, outputs.last_hidden_state, targets)
        return torch.nn.functional.cross_entropy(
            outputs.logits.float().transpose(1, 2), targets, ignore_index=-100
        )

    def transcribe(
        self, model: torch.nn.Module, examples: list[Example], device: str, dtype: torch.dtype
    ) -> list[str]:
        from transformers.modeling_outputs import BaseModelOutput

        model.eval()
        texts: dict[int, str] = {}
        with torch.no_grad():
            for indices in language_batches(examples, EVAL_BATCH):
                batch = [examples[i] for i in indices]
                if batch[0].encoded is not None:
                    hidden = torch.stack([e.encoded for e in batch]).to(device, dtype)
                else:
                    features = torch.stack([e.features for e in batch]).to(device, dtype)
                    hidden = model.get_encoder()(features).last_hidden_state
                language = {"language": batch[0].language} if batch[0].language else {}
                generated = model.generate(
                    encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                    max_new_tokens=MAX_NEW_TOKENS,
                    **language,
                )
                decoded = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
                texts.update({i: text.strip() for i, text in zip(indices, decoded, strict=True)})
        return [texts[i] for i in range(len(examples))]


def label_ids(
    tokenizer: WhisperTokenizer, text: str, language: str | None, multilingual: bool
) -> list[int]:
    """``<|startoftranscript|>[lang, transcribe]<|notimestamps|> text<|endoftext|>``."""
    if multilingual:
        tokenizer.set_prefix_tokens(language=language or "en", task="transcribe")
    tokenizer.set_prefix_tokens(predict_timestamps=False)
    # Whisper writes a space before the first word; train on what it will be asked to write.
    return list(tokenizer(" " + text.strip()).input_ids)


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
