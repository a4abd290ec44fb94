"""Qwen3-ASR as llama.cpp runs it: the text decoder (arch ``qwen3``) and an mmproj file
holding the audio encoder and its projector (projector type ``qwen3a``), written with the
``gguf`` package (no compiler, no llama.cpp checkout).

Tensor names and keys are the ones llama.cpp (commit 0ce8cd1, the ``llama-cpp-py-sync``
wheel) reads: ``tools/mtmd/clip.cpp`` loads ``a.conv2d.N``, ``a.conv_out``,
``a.position_embd``, ``a.blk.N.*``, ``a.post_ln`` and ``mm.a.mlp.{1,2}`` for ``qwen3a``;
``src/llama-model.cpp`` loads the usual ``blk.N.attn_*``/``ffn_*`` for ``qwen3``. The text
decoder of transformers' Qwen3-ASR is a plain Qwen3 (1-D RoPE), so ``qwen3`` runs it as is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voxtune.engine.errors import ModelError

if TYPE_CHECKING:
    from voxtune.engine.models.info import LoadedModel

TEXT_FILE = "model.gguf"
MMPROJ_FILE = "mmproj.gguf"
# Number formats gguf-py writes in Python; K-quants and i-quants need llama.cpp's quantiser.
QUANT_TYPES = ("f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0")
# Rows of the sinusoidal position table llama.cpp's converter writes (Whisper's 1500).
POSITION_ROWS = 1500
# llama.cpp's qwen3a front end is fixed at 100-frame conv chunks and 800-frame attention
# windows (mtmd-audio.cpp); a model made with other values runs, with other windows.
LLAMACPP_N_WINDOW = 50
LLAMACPP_N_WINDOW_INFER = 800
# Qwen2's pre-tokenizer regex, as ``tokenizer.json`` spells it (Qwen3 shares it).
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)


@dataclass(frozen=True)
class WrittenGguf:
    files: dict[str, int]  # file name -> bytes
    tensors: dict[str, list[str]]  # file name -> tensor names, in order
    keys: dict[str, list[str]]  # file name -> metadata keys
    warnings: tuple[str, ...]


def check_quant(quant: str) -> None:
    if quant not in QUANT_TYPES:
        raise ModelError(
            f"--quant {quant}: gguf-py cannot write it in Python (choose from "
            f"{', '.join(QUANT_TYPES)}; K-quants need llama.cpp's llama-quantize)"
        )


def write_qwen3_gguf(loaded: LoadedModel, out: Path, quant: str) -> WrittenGguf:
    """Write ``model.gguf`` and ``mmproj.gguf`` for ``loaded`` (torch, float32) into ``out``."""
    check_quant(quant)
    config = loaded.model.config
    audio, text = config.audio_config, config.text_config
    warnings = []
    if audio.n_window != LLAMACPP_N_WINDOW or audio.n_window_infer != LLAMACPP_N_WINDOW_INFER:
        warnings.append(
            f"this model's encoder windows (n_window {audio.n_window}, n_window_infer "
            f"{audio.n_window_infer}) differ from llama.cpp's fixed {LLAMACPP_N_WINDOW}/"
            f"{LLAMACPP_N_WINDOW_INFER}: audio longer than "
            f"{min(audio.n_window_infer, LLAMACPP_N_WINDOW_INFER) / 100:g} s attends differently"
        )
    state = {k: v.detach().float().cpu().numpy() for k, v in loaded.model.state_dict().items()}
    name = loaded.info.name
    written = [
        _write(
            out / TEXT_FILE,
            "qwen3",
            _text_keys(loaded, text, quant),
            _text_tensors(state, text, quant),
        ),
        _write(
            out / MMPROJ_FILE,
            "clip",
            _mmproj_keys(name, audio, text),
            _mmproj_tensors(state, audio, quant),
        ),
    ]
    return WrittenGguf(
        files={w[0]: (out / w[0]).stat().st_size for w in written},
        tensors={w[0]: w[1] for w in written},
        keys={w[0]: w[2] for w in written},
        warnings=tuple(warnings),
    )


# -- writing -----------------------------------------------------------------------------------

Keys = list[tuple[str, Any, Any]]  # (key, value, GGUFValueType or None: inferred)
Tensor = tuple[str, np.ndarray, Any]  # (name, data, GGMLQuantizationType of data)


def _write(
    path: Path, arch: str, keys: Keys, tensors: Iterator[Tensor]
) -> tuple[str, list[str], list[str]]:
    """One GGUF file, written beside ``path`` and renamed over it when complete."""
    import gguf

    partial = path.with_name(f".{path.name}.partial")
    writer = gguf.GGUFWriter(str(partial), arch)
    key_names = ["general.architecture"]
    names = []
    try:
        for key, value, value_type in keys:
            writer.add_key_value(key, value, value_type or _value_type(value))
            key_names.append(key)
        for tensor_name, data, qtype in tensors:
            writer.add_tensor(tensor_name, data, raw_dtype=qtype)
            names.append(tensor_name)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(partial, path)
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    return path.name, names, key_names


def _value_type(value: Any) -> Any:
    from gguf import GGUFValueType

    if isinstance(value, bool):
        return GGUFValueType.BOOL
    if isinstance(value, int):
        return GGUFValueType.UINT32
    if isinstance(value, float):
        return GGUFValueType.FLOAT32
    if isinstance(value, str):
        return GGUFValueType.STRING
    return GGUFValueType.ARRAY


def _encoded(data: np.ndarray, quant: str, *, matrix: bool) -> tuple[np.ndarray, Any]:
    """``data`` in ``quant`` where llama.cpp takes it: matrices whose rows fill whole blocks.
    Vectors (norms, biases) stay float32, as llama.cpp's converter keeps them."""
    import gguf
    from gguf import GGMLQuantizationType as Q

    data = np.ascontiguousarray(data, dtype=np.float32)
    if not matrix or data.ndim < 2 or quant == "f32":
        return data, Q.F32
    if quant == "f16":
        return data.astype(np.float16), Q.F16
    qtype = Q[quant.upper()]
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    if data.shape[-1] % block:
        return data.astype(np.float16), Q.F16  # a row that fills no whole block
    return gguf.quants.quantize(data, qtype), qtype


# -- the text decoder --------------------------------------------------------------------------


def _text_keys(loaded: LoadedModel, text: Any, quant: str) -> Keys:
    import gguf

    arch = "qwen3"
    tokenizer = loaded.processor.tokenizer
    keys: Keys = [
        ("general.type", "model", None),
        ("general.name", loaded.info.name, None),
        ("general.file_type", int(_file_type(quant)), None),
        (f"{arch}.context_length", int(text.max_position_embeddings), None),
        (f"{arch}.embedding_length", int(text.hidden_size), None),
        (f"{arch}.feed_forward_length", int(text.intermediate_size), None),
        (f"{arch}.block_count", int(text.num_hidden_layers), None),
        (f"{arch}.attention.head_count", int(text.num_attention_heads), None),
        (f"{arch}.attention.head_count_kv", int(text.num_key_value_heads), None),
        (f"{arch}.attention.key_length", int(text.head_dim), None),
        (f"{arch}.attention.value_length", int(text.head_dim), None),
        (f"{arch}.attention.layer_norm_rms_epsilon", float(text.rms_norm_eps), None),
        (f"{arch}.rope.freq_base", float(_rope_theta(text)), None),
        (f"{arch}.vocab_size", int(text.vocab_size), None),
    ]
    tokens, types = _vocabulary(tokenizer, int(text.vocab_size))
    eos = loaded.model.generation_config.eos_token_id
    eos = eos if isinstance(eos, list) else [eos]
    keys += [
        ("tokenizer.ggml.model", "gpt2", None),
        ("tokenizer.ggml.pre", _pre_tokenizer(tokenizer), None),
        ("tokenizer.ggml.tokens", tokens, None),
        ("tokenizer.ggml.token_type", types, gguf.GGUFValueType.ARRAY),
        ("tokenizer.ggml.merges", _merges(tokenizer), None),
        ("tokenizer.ggml.eos_token_id", int(tokenizer.convert_tokens_to_ids("<|im_end|>")), None),
        ("tokenizer.ggml.padding_token_id", int(tokenizer.pad_token_id), None),
        (
            "tokenizer.ggml.bos_token_id",
            int(tokenizer.convert_tokens_to_ids("<|endoftext|>")),
            None,
        ),
        ("tokenizer.ggml.add_bos_token", False, None),
        ("tokenizer.chat_template", loaded.processor.chat_template, None),
        # Every token that ends a transcription, for a runner that reads them from the file.
        ("voxtune.eos_token_ids", [int(t) for t in eos], None),
    ]
    return keys


def _text_tensors(state: dict[str, np.ndarray], text: Any, quant: str) -> Iterator[Tensor]:
    import gguf

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN3, int(text.num_hidden_layers))
    prefix = "model.language_model."
    embed = state[prefix + "embed_tokens.weight"]
    for key, data in state.items():
        if not key.startswith(prefix):
            continue
        hf = "model." + key[len(prefix) :]
        base, _, suffix = hf.rpartition(".")
        mapped = names.get_name(base)
        if mapped is None:
            raise ModelError(f"{key}: a text-decoder weight llama.cpp's qwen3 has no place for")
        yield (f"{mapped}.{suffix}", *_encoded(data, quant, matrix=not base.endswith("norm")))
    head = state.get("lm_head.weight")
    if head is not None and not np.array_equal(head, embed):  # a tied head is token_embd
        yield ("output.weight", *_encoded(head, quant, matrix=True))


# -- the audio encoder and projector -------------------------------------------------------------


def _mmproj_keys(name: str, audio: Any, text: Any) -> Keys:
    return [
        ("general.type", "mmproj", None),
        ("general.name", f"{name} audio encoder", None),
        ("clip.has_audio_encoder", True, None),
        ("clip.has_vision_encoder", False, None),
        ("clip.audio.projector_type", "qwen3a", None),
        ("clip.audio.num_mel_bins", int(audio.num_mel_bins), None),
        ("clip.audio.embedding_length", int(audio.d_model), None),
        ("clip.audio.feed_forward_length", int(audio.encoder_ffn_dim), None),
        ("clip.audio.block_count", int(audio.encoder_layers), None),
        ("clip.audio.attention.head_count", int(audio.encoder_attention_heads), None),
        # torch's nn.LayerNorm default: the encoder's norms are built without an eps argument.
        ("clip.audio.attention.layer_norm_epsilon", 1e-5, None),
        ("clip.audio.projection_dim", int(text.hidden_size), None),
    ]


# Encoder layer parts → llama.cpp's names (``a.blk.N.<name>``).
_LAYER_PARTS = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.out_proj": "attn_out",
    "self_attn_layer_norm": "ln1",
    "final_layer_norm": "ln2",
    "fc1": "ffn_up",
    "fc2": "ffn_down",
}


def _mmproj_tensors(state: dict[str, np.ndarray], audio: Any, quant: str) -> Iterator[Tensor]:
    tower, projector = "model.audio_tower.", "model.multi_modal_projector."
    for index in (1, 2, 3):
        weight = state[f"{tower}conv2d{index}.weight"]
        # ggml's conv_2d takes a float kernel (F16 as llama.cpp's converter writes it).
        kernel = weight.astype(np.float16) if quant != "f32" else weight
        yield (f"a.conv2d.{index}.weight", kernel, _float_type(kernel))
        bias = state[f"{tower}conv2d{index}.bias"].reshape(-1, 1, 1)  # ggml ne [1, 1, C]
        yield (f"a.conv2d.{index}.bias", bias, _float_type(bias))
    yield ("a.conv_out.weight", *_encoded(state[f"{tower}conv_out.weight"], quant, matrix=True))
    positions = sinusoids(POSITION_ROWS, int(audio.d_model))
    yield ("a.position_embd.weight", positions, _float_type(positions))
    for layer in range(int(audio.encoder_layers)):
        for part, target in _LAYER_PARTS.items():
            for suffix in ("weight", "bias"):
                data = state[f"{tower}layers.{layer}.{part}.{suffix}"]
                matrix = suffix == "weight" and "norm" not in part
                yield (f"a.blk.{layer}.{target}.{suffix}", *_encoded(data, quant, matrix=matrix))
    for suffix in ("weight", "bias"):
        data = state[f"{tower}ln_post.{suffix}"]
        yield (f"a.post_ln.{suffix}", data, _float_type(data))
    for index in (1, 2):
        for suffix in ("weight", "bias"):
            data = state[f"{projector}linear_{index}.{suffix}"]
            yield (f"mm.a.mlp.{index}.{suffix}", *_encoded(data, quant, matrix=suffix == "weight"))


def sinusoids(length: int, channels: int) -> np.ndarray:
    """The encoder's position table, as transformers computes it (a buffer, not a weight)."""
    import torch

    increment = np.log(10000) / (channels // 2 - 1)
    inverse = torch.exp(-increment * torch.arange(channels // 2).float())
    scaled = torch.arange(length)[:, None] * inverse[None, :]
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=1).numpy().astype(np.float32)


def _float_type(data: np.ndarray) -> Any:
    from gguf import GGMLQuantizationType as Q

    return Q.F16 if data.dtype == np.float16 else Q.F32


# -- the tokenizer ---------------------------------------------------------------------------------


def _vocabulary(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    """Every id's token as llama.cpp's BPE vocabulary holds it (byte-level strings; added
    tokens as their text), with its type; ids past the tokenizer are unused padding."""
    from gguf import TokenType

    added = {t.content: t for t in tokenizer.added_tokens_decoder.values()}
    known = tokenizer.convert_ids_to_tokens(list(range(min(len(tokenizer), vocab_size))))
    tokens, types = [], []
    for index in range(vocab_size):
        token = known[index] if index < len(known) else None
        if token is None:
            tokens.append(f"[PAD{index}]")
            types.append(int(TokenType.UNUSED))
        elif token in added:
            tokens.append(token)
            special = added[token].special
            types.append(int(TokenType.CONTROL if special else TokenType.USER_DEFINED))
        else:
            tokens.append(token)
            types.append(int(TokenType.NORMAL))
    return tokens, types


def _tokenizer_json(tokenizer: Any) -> dict:
    return json.loads(tokenizer.backend_tokenizer.to_str())


def _merges(tokenizer: Any) -> list[str]:
    merges = _tokenizer_json(tokenizer)["model"].get("merges", [])
    return [m if isinstance(m, str) else " ".join(m) for m in merges]


def _pre_tokenizer(tokenizer: Any) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer: Qwen's regex, or GPT-2's."""
    pre = _tokenizer_json(tokenizer).get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre])
    for step in steps:
        if step.get("type") == "Split" and step.get("pattern", {}).get("Regex") == _QWEN2_SPLIT:
            return "qwen2"
    if any(s.get("type") == "ByteLevel" and s.get("use_regex", True) for s in steps):
        return "gpt-2"
    raise ModelError(f"a pre-tokenizer llama.cpp has no name for: {json.dumps(pre)[:200]}")


def _rope_theta(text: Any) -> float:
    parameters = getattr(text, "rope_parameters", None) or {}
    return float(parameters.get("rope_theta", getattr(text, "rope_theta", 1_000_000.0)))


def _file_type(quant: str) -> int:
    from gguf import LlamaFileType

    return {
        "f32": LlamaFileType.ALL_F32,
        "f16": LlamaFileType.MOSTLY_F16,
        "bf16": LlamaFileType.MOSTLY_BF16,
        "q8_0": LlamaFileType.MOSTLY_Q8_0,
        "q5_1": LlamaFileType.MOSTLY_Q5_1,
        "q5_0": LlamaFileType.MOSTLY_Q5_0,
        "q4_1": LlamaFileType.MOSTLY_Q4_1,
        "q4_0": LlamaFileType.MOSTLY_Q4_0,
    }[quant]
