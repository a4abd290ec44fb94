"""Tiny random Whispers in Hugging Face layout, for fast structure tests.

The weights are random (seeded) and small (d_model 64, 2 layers), but the tokenizer, feature
extractor and generation config are the real ones of an imported built-in, so everything
around the model (prompts, special ids, timestamps, decoding) behaves as with a real Whisper.
``resolve_model(str(path))`` / ``load_model(str(path))`` accept the folder (source "local").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "preprocessor_config.json",
)


def build_tiny_whisper(
    directory: Path,
    *,
    base_model: str = "whisper-tiny.en",
    d_model: int = 64,
    layers: int = 2,
    heads: int = 4,
    seed: int = 0,
) -> Path:
    """Save a random Whisper with ``base_model``'s tokenizer into ``directory``; return it.

    Use ``base_model="whisper-base"`` for a multilingual one (language and task tokens).
    """
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    from voxtune.engine.models import resolve_model

    source = resolve_model(base_model).location
    real = WhisperConfig.from_pretrained(source)
    config = WhisperConfig(
        vocab_size=real.vocab_size,
        num_mel_bins=real.num_mel_bins,
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        encoder_ffn_dim=4 * d_model,
        decoder_ffn_dim=4 * d_model,
        max_source_positions=real.max_source_positions,
        max_target_positions=real.max_target_positions,
        pad_token_id=real.pad_token_id,
        bos_token_id=real.bos_token_id,
        eos_token_id=real.eos_token_id,
        decoder_start_token_id=real.decoder_start_token_id,
        suppress_tokens=real.suppress_tokens,
        begin_suppress_tokens=real.begin_suppress_tokens,
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)

    generation = GenerationConfig.from_pretrained(source)
    # The real alignment heads name layers this model does not have.
    generation.alignment_heads = [[layer, h] for layer in range(layers) for h in range(heads)]
    generation.save_pretrained(directory)
    for name in TOKENIZER_FILES:
        shutil.copyfile(source / name, directory / name)
    return directory


def read_config(directory: Path) -> dict:
    return json.loads((directory / "config.json").read_text(encoding="utf-8"))
