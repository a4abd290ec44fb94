"""A loaded Whisper (a base, or a tune with its adapter merged) as a whisper.cpp model file.

Names follow openai-whisper's checkpoints, which whisper.cpp's loader asks for by name; the
mel filters are the feature extractor's own (Slaney, as openai-whisper's), so whisper.cpp
computes the features the model was trained on; the vocabulary is the tokenizer's
byte-level BPE tokens as raw bytes. The container itself is ``engine/export/ggml_files``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from voxtune.engine.atomic import atomic_open
from voxtune.engine.errors import ModelError
from voxtune.engine.export.ggml_files import (
    F16,
    F32,
    QUANTISATIONS,
    TYPE_NAMES,
    GgmlWriter,
    WhisperHparams,
)
from voxtune.engine.models.info import LoadedModel

# Hugging Face module names -> openai-whisper's, inside a block.
_BLOCK_PARTS = {
    "self_attn.q_proj": "attn.query",
    "self_attn.k_proj": "attn.key",
    "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out",
    "self_attn_layer_norm": "attn_ln",
    "encoder_attn.q_proj": "cross_attn.query",
    "encoder_attn.k_proj": "cross_attn.key",
    "encoder_attn.v_proj": "cross_attn.value",
    "encoder_attn.out_proj": "cross_attn.out",
    "encoder_attn_layer_norm": "cross_attn_ln",
    "fc1": "mlp.0",
    "fc2": "mlp.2",
    "final_layer_norm": "mlp_ln",
}
_TOP_LEVEL = {
    "encoder.embed_positions.weight": "encoder.positional_embedding",
    "encoder.layer_norm.weight": "encoder.ln_post.weight",
    "encoder.layer_norm.bias": "encoder.ln_post.bias",
    "decoder.embed_positions.weight": "decoder.positional_embedding",
    "decoder.embed_tokens.weight": "decoder.token_embedding.weight",
    "decoder.layer_norm.weight": "decoder.ln.weight",
    "decoder.layer_norm.bias": "decoder.ln.bias",
}
_BLOCK = re.compile(r"^(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)$")
# Kept in f32 by whisper.cpp whatever the file's number format (its loader expects them so).
_ALWAYS_F32 = {"encoder.positional_embedding", "decoder.positional_embedding"}
_CONVOLUTIONS = {"encoder.conv1.weight", "encoder.conv2.weight"}  # f16 unless the file is f32


def whisper_cpp_name(hf_name: str) -> str:
    """``model.encoder.layers.0.fc1.weight`` -> ``encoder.blocks.0.mlp.0.weight``."""
    name = hf_name.removeprefix("model.")
    if name in _TOP_LEVEL:
        return _TOP_LEVEL[name]
    if match := _BLOCK.match(name):
        side, index, part, kind = match.groups()
        if part not in _BLOCK_PARTS:
            raise ModelError(f"{hf_name}: a Whisper weight whisper.cpp has no place for")
        return f"{side}.blocks.{index}.{_BLOCK_PARTS[part]}.{kind}"
    if name.startswith(("encoder.conv1.", "encoder.conv2.")):
        return name
    raise ModelError(f"{hf_name}: a Whisper weight whisper.cpp has no place for")


def tensor_type(name: str, ndim: int, matrix_type: int) -> int:
    """The ggml type whisper.cpp's loader expects for ``name`` in a file of ``matrix_type``."""
    if name in _CONVOLUTIONS:
        return F32 if matrix_type == F32 else F16
    if ndim < 2 or name in _ALWAYS_F32 or name.endswith(".bias"):
        return F32
    return matrix_type


def hparams_of(config, ftype: int) -> WhisperHparams:  # type: ignore[no-untyped-def]
    return WhisperHparams(
        n_vocab=config.vocab_size,
        n_audio_ctx=config.max_source_positions,
        n_audio_state=config.d_model,
        n_audio_head=config.encoder_attention_heads,
        n_audio_layer=config.encoder_layers,
        n_text_ctx=config.max_target_positions,
        n_text_state=config.d_model,
        n_text_head=config.decoder_attention_heads,
        n_text_layer=config.decoder_layers,
        n_mels=config.num_mel_bins,
        ftype=ftype,
    )


def vocabulary_bytes(tokenizer) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The ordinary tokens (every id below the first special one) as raw bytes. whisper.cpp
    names the special tokens after them itself, by position, from the vocabulary's size."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    first_special = min(tokenizer.added_tokens_decoder)
    byte_of = {char: byte for byte, char in bytes_to_unicode().items()}
    tokens = tokenizer.convert_ids_to_tokens(list(range(first_special)))
    try:
        return [bytes(byte_of[char] for char in token) for token in tokens]
    except (KeyError, TypeError) as exc:
        raise ModelError(f"tokenizer: not Whisper's byte-level vocabulary ({exc})") from exc


def export_ggml(loaded: LoadedModel, out: Path, quantisation: str) -> dict[str, Any]:
    """Write ``out`` (atomically) at ``quantisation``; the metadata the export reports."""
    if quantisation not in QUANTISATIONS:
        raise ModelError(f"--quant {quantisation}: choose from {', '.join(QUANTISATIONS)}")
    ftype, matrix_type = QUANTISATIONS[quantisation]
    model = loaded.model.float().eval()
    config = model.config
    if config.d_model % 32 and matrix_type not in (F32, F16):
        raise ModelError(
            f"{loaded.info.name}: width {config.d_model} does not split into ggml's 32-value "
            f"blocks (export with --quant f16)"
        )
    weights = model.state_dict()
    embedding = weights["model.decoder.embed_tokens.weight"]
    if "proj_out.weight" in weights and not torch.equal(weights["proj_out.weight"], embedding):
        raise ModelError(
            f"{loaded.info.name}: its output projection is not its token embedding, "
            f"which whisper.cpp assumes"
        )
    hparams = hparams_of(config, ftype)
    mel_filters = np.asarray(loaded.processor.feature_extractor.mel_filters, np.float32).T
    if mel_filters.shape[0] != config.num_mel_bins:
        raise ModelError(f"{loaded.info.name}: mel filters {mel_filters.shape} for "
                         f"{config.num_mel_bins} mel bins")  # fmt: skip
    types: dict[str, int] = {}
    with atomic_open(out, "wb") as handle:
        writer = GgmlWriter(handle)
        writer.header(hparams)
        writer.mel_filters(mel_filters)
        writer.vocabulary(vocabulary_bytes(loaded.processor.tokenizer))
        for hf_name, tensor in weights.items():
            if hf_name == "proj_out.weight":  # tied: whisper.cpp reuses the token embedding
                continue
            name = whisper_cpp_name(hf_name)
            data = tensor.detach().cpu().float().numpy()
            if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                data = data.reshape(-1, 1)  # whisper.cpp adds it to [frames, width] as [1, width]
            kind = tensor_type(name, data.ndim, matrix_type)
            writer.tensor(name, data, kind)
            types[TYPE_NAMES[kind]] = types.get(TYPE_NAMES[kind], 0) + 1
    return {
        "format": "ggml",
        "quantisation": quantisation,
        "hparams": {k: v for k, v in vars(hparams).items()},
        "tensors": writer.tensor_count,
        "tensor_types": types,
        "files": [out.name],
    }
