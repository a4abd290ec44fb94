"""``config.json`` and ``generation_config.json`` for an imported Whisper.

They hold what transformers' own Whisper checkpoints hold (compare ``generation_whisper.py``):
special ids read from the tokenizer, the suppress lists and alignment heads CTranslate2 kept in
its ``config.json``, and ``lang_to_id`` / ``task_to_id`` for multilingual models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError
from voxtune.engine.models.whisper_tokenizer_files import WhisperTokenIds
from voxtune.engine.models.whisper_weights import WhisperShape

if TYPE_CHECKING:
    from transformers import GenerationConfig, WhisperConfig

# Whisper's first word may not be a bare space; the rest is read from the source.
_SPACE_TOKEN = 220
# As in transformers' Whisper generation configs: the first timestamp is at most 1 s.
MAX_INITIAL_TIMESTAMP_INDEX = 50


@dataclass(frozen=True)
class CT2WhisperConfig:
    """What a CTranslate2 Whisper ``config.json`` carries (all optional there)."""

    alignment_heads: list[list[int]] | None
    suppress_ids: list[int] | None
    suppress_ids_begin: list[int] | None


def read_ct2_config(directory: Path) -> CT2WhisperConfig:
    path = directory / "config.json"
    if not path.is_file():
        return CT2WhisperConfig(None, None, None)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return CT2WhisperConfig(
            alignment_heads=_pairs(data.get("alignment_heads")),
            suppress_ids=_ints(data.get("suppress_ids")),
            suppress_ids_begin=_ints(data.get("suppress_ids_begin")),
        )
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"{path}: unreadable CTranslate2 config ({exc})") from exc


def _ints(value: object) -> list[int] | None:
    return None if value is None else [int(v) for v in value]  # type: ignore[union-attr]


def _pairs(value: object) -> list[list[int]] | None:
    return None if value is None else [[int(a), int(b)] for a, b in value]  # type: ignore[union-attr]


def _suppress(ids: WhisperTokenIds, ct2: CT2WhisperConfig) -> tuple[list[int], list[int]]:
    suppress = ct2.suppress_ids if ct2.suppress_ids is not None else []
    begin = ct2.suppress_ids_begin
    return suppress, begin if begin is not None else [_SPACE_TOKEN, ids.end_of_text]


def _alignment_heads(shape: WhisperShape, ct2: CT2WhisperConfig) -> list[list[int]]:
    if ct2.alignment_heads:
        return ct2.alignment_heads
    # transformers' fallback: every head of the second half of the decoder.
    half = shape.decoder_layers // 2
    heads = shape.decoder_attention_heads
    return [[layer, h] for layer in range(half, shape.decoder_layers) for h in range(heads)]


def model_config(shape: WhisperShape, ids: WhisperTokenIds, ct2: CT2WhisperConfig) -> WhisperConfig:
    from transformers import WhisperConfig

    suppress, begin = _suppress(ids, ct2)
    return WhisperConfig(
        vocab_size=shape.vocab_size,
        num_mel_bins=shape.num_mel_bins,
        d_model=shape.d_model,
        encoder_layers=shape.encoder_layers,
        decoder_layers=shape.decoder_layers,
        encoder_attention_heads=shape.encoder_attention_heads,
        decoder_attention_heads=shape.decoder_attention_heads,
        encoder_ffn_dim=shape.encoder_ffn_dim,
        decoder_ffn_dim=shape.decoder_ffn_dim,
        max_source_positions=shape.max_source_positions,
        max_target_positions=shape.max_target_positions,
        activation_function="gelu",
        scale_embedding=False,
        tie_word_embeddings=True,
        pad_token_id=ids.end_of_text,
        bos_token_id=ids.end_of_text,
        eos_token_id=ids.end_of_text,
        decoder_start_token_id=ids.start_of_transcript,
        suppress_tokens=suppress,
        begin_suppress_tokens=begin,
    )


def generation_config(
    shape: WhisperShape, ids: WhisperTokenIds, ct2: CT2WhisperConfig, multilingual: bool
) -> GenerationConfig:
    from transformers import GenerationConfig

    suppress, begin = _suppress(ids, ct2)
    fields: dict[str, object] = {
        "alignment_heads": _alignment_heads(shape, ct2),
        "begin_suppress_tokens": begin,
        "suppress_tokens": suppress,
        "bos_token_id": ids.end_of_text,
        "eos_token_id": ids.end_of_text,
        "pad_token_id": ids.end_of_text,
        "decoder_start_token_id": ids.start_of_transcript,
        "no_timestamps_token_id": ids.no_timestamps,
        "prev_sot_token_id": ids.start_of_prev,
        "max_initial_timestamp_index": MAX_INITIAL_TIMESTAMP_INDEX,
        "max_length": shape.max_target_positions,
        "is_multilingual": multilingual,
        "return_timestamps": False,
    }
    if multilingual:
        fields["lang_to_id"] = {f"<|{code}|>": i for code, i in ids.language_ids.items()}
        fields["task_to_id"] = {"transcribe": ids.transcribe, "translate": ids.translate}
    return GenerationConfig(**fields)
