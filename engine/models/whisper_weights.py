"""Rename CTranslate2 Whisper weights to the names of transformers' Whisper.

The mapping is the table in ``shared/FACTS.md``. Sizes (layers, width, heads, vocabulary,
positions, mel bins) follow from the tensors themselves, so any Whisper size imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from voxtune.engine.errors import ModelError
from voxtune.engine.models.ct2_reader import CT2Model

# CTranslate2's ActivationType.GELU; Whisper uses nothing else.
_CT2_GELU = 3
_QUANTISED = (torch.int8, torch.int16, torch.int32)


@dataclass(frozen=True)
class WhisperShape:
    """The sizes a ``WhisperConfig`` needs, read off the tensors."""

    vocab_size: int
    d_model: int
    num_mel_bins: int
    encoder_layers: int
    decoder_layers: int
    encoder_attention_heads: int
    decoder_attention_heads: int
    encoder_ffn_dim: int
    decoder_ffn_dim: int
    max_source_positions: int
    max_target_positions: int


def whisper_state_dict(ct2: CT2Model, label: str) -> tuple[dict[str, torch.Tensor], WhisperShape]:
    """HF state dict (without the tied ``proj_out``) and sizes; ModelError names ``label``."""
    if ct2.spec and ct2.spec != "WhisperSpec":
        raise ModelError(f"{label}: a CTranslate2 {ct2.spec} model, not Whisper")
    _check_architecture(ct2, label)
    weights = _dequantised(ct2, label)
    try:
        shape = _shape(ct2, weights)
        state = _renamed(weights, shape)
    except KeyError as exc:
        raise ModelError(f"{label}: not a complete Whisper model (missing {exc.args[0]})") from exc
    return state, shape


def _check_architecture(ct2: CT2Model, label: str) -> None:
    unsupported = {
        "decoder/activation": lambda v: v != _CT2_GELU,
        "decoder/alibi": bool,
        "decoder/scale_embeddings": bool,
        "decoder/pre_norm": lambda v: not v,
    }
    for option, is_unsupported in unsupported.items():
        if option in ct2.options and is_unsupported(ct2.options[option]):
            raise ModelError(
                f"{label}: unsupported Whisper variant ({option} = {ct2.options[option]})"
            )


def _dequantised(ct2: CT2Model, label: str) -> dict[str, torch.Tensor]:
    """Float tensors only: int8/int16 weights are divided by their ``weight_scale``."""
    plain = [t.dtype for n, t in ct2.weights.items() if not _is_quantised(ct2, n)]
    floats = {d for d in plain if d.is_floating_point}
    target = floats.pop() if len(floats) == 1 else torch.float32
    out: dict[str, torch.Tensor] = {}
    for name, tensor in ct2.weights.items():
        if name.endswith("/weight_scale"):
            continue
        if _is_quantised(ct2, name):
            scale = _scale(ct2, name + "_scale")
            if scale is None:
                raise ModelError(
                    f"{label}: quantised weight {name} has no weight_scale; "
                    "re-convert the model with --quantization float16 or float32"
                )
            scale = scale.to(torch.float32)
            if scale.dim() == 1:  # one scale per output row (or conv filter)
                scale = scale.reshape(-1, *[1] * (tensor.dim() - 1))
            tensor = tensor.to(torch.float32) / scale
        elif not tensor.dtype.is_floating_point:
            raise ModelError(f"{label}: unexpected {tensor.dtype} tensor {name}")
        out[name] = tensor.to(target).contiguous()
    for alias, target_name in ct2.aliases.items():
        if target_name in out:
            out[alias] = out[target_name]
    return out


def _scale(ct2: CT2Model, name: str) -> torch.Tensor | None:
    """Per-row scales are tensors; int16's single scale is a rank-0 entry, read as an option."""
    if name in ct2.weights:
        return ct2.weights[name]
    return torch.tensor(float(ct2.options[name])) if name in ct2.options else None


def _is_quantised(ct2: CT2Model, name: str) -> bool:
    return name.endswith("/weight") and ct2.weights[name].dtype in _QUANTISED


def _count_layers(weights: dict[str, torch.Tensor], stack: str) -> int:
    pattern = re.compile(rf"^{stack}/layer_(\d+)/")
    found = {int(m.group(1)) for n in weights if (m := pattern.match(n))}
    return max(found) + 1 if found else 0


def _shape(ct2: CT2Model, weights: dict[str, torch.Tensor]) -> WhisperShape:
    embeddings = weights["decoder/embeddings/weight"]
    return WhisperShape(
        vocab_size=embeddings.shape[0],
        d_model=embeddings.shape[1],
        num_mel_bins=weights["encoder/conv1/weight"].shape[1],
        encoder_layers=_count_layers(weights, "encoder"),
        decoder_layers=_count_layers(weights, "decoder"),
        encoder_attention_heads=int(ct2.options["encoder/num_heads"]),
        decoder_attention_heads=int(ct2.options["decoder/num_heads"]),
        encoder_ffn_dim=weights["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=weights["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=weights["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=weights["decoder/position_encodings/encodings"].shape[0],
    )


def _linear(state: dict, hf: str, weights: dict, ct2: str, bias: bool = True) -> None:
    state[f"{hf}.weight"] = weights[f"{ct2}/weight"]
    if bias:
        state[f"{hf}.bias"] = weights[f"{ct2}/bias"]


def _norm(state: dict, hf: str, weights: dict, ct2: str) -> None:
    state[f"{hf}.weight"] = weights[f"{ct2}/gamma"]
    state[f"{hf}.bias"] = weights[f"{ct2}/beta"]


def _split_linear(state: dict, hf: list[str], weights: dict, ct2: str) -> None:
    """A fused projection (q,k,v or k,v) into its parts; HF's k_proj has no bias."""
    parts = len(hf)
    for name, w, b in zip(
        hf,
        weights[f"{ct2}/weight"].chunk(parts),
        weights[f"{ct2}/bias"].chunk(parts),
        strict=True,
    ):
        state[f"{name}.weight"] = w.clone()
        if not name.endswith("k_proj"):
            state[f"{name}.bias"] = b.clone()


def _renamed(weights: dict[str, torch.Tensor], shape: WhisperShape) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for conv in ("conv1", "conv2"):
        _linear(state, f"model.encoder.{conv}", weights, f"encoder/{conv}")
    state["model.encoder.embed_positions.weight"] = weights["encoder/position_encodings/encodings"]
    state["model.decoder.embed_positions.weight"] = weights["decoder/position_encodings/encodings"]
    state["model.decoder.embed_tokens.weight"] = weights["decoder/embeddings/weight"]
    for stack, layers in (("encoder", shape.encoder_layers), ("decoder", shape.decoder_layers)):
        _norm(state, f"model.{stack}.layer_norm", weights, f"{stack}/layer_norm")
        for i in range(layers):
            hf, ct2 = f"model.{stack}.layers.{i}", f"{stack}/layer_{i}"
            _split_linear(
                state,
                [f"{hf}.self_attn.{p}_proj" for p in "qkv"],
                weights,
                f"{ct2}/self_attention/linear_0",
            )
            _linear(state, f"{hf}.self_attn.out_proj", weights, f"{ct2}/self_attention/linear_1")
            _norm(state, f"{hf}.self_attn_layer_norm", weights, f"{ct2}/self_attention/layer_norm")
            if stack == "decoder":
                _linear(state, f"{hf}.encoder_attn.q_proj", weights, f"{ct2}/attention/linear_0")
                _split_linear(
                    state,
                    [f"{hf}.encoder_attn.{p}_proj" for p in "kv"],
                    weights,
                    f"{ct2}/attention/linear_1",
                )
                _linear(state, f"{hf}.encoder_attn.out_proj", weights, f"{ct2}/attention/linear_2")
                _norm(
                    state, f"{hf}.encoder_attn_layer_norm", weights, f"{ct2}/attention/layer_norm"
                )
            _linear(state, f"{hf}.fc1", weights, f"{ct2}/ffn/linear_0")
            _linear(state, f"{hf}.fc2", weights, f"{ct2}/ffn/linear_1")
            _norm(state, f"{hf}.final_layer_norm", weights, f"{ct2}/ffn/layer_norm")
    return state
