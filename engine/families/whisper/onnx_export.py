"""Export a loaded Whisper to ONNX: ``encoder.onnx``, ``cross_kv.onnx``, ``decoder.onnx``.

The TorchScript exporter (``torch.onnx.export(dynamo=False)``) traces the small modules in
``onnx_graphs``; on torch 2.13 it handles their dynamic shapes (batch, cache length, tokens)
without the dynamo exporter's extra dependencies.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from voxtune.engine.export.onnx_files import export_graph
from voxtune.engine.families.whisper.onnx_graphs import CrossKeyValues, DecoderStep, EncoderGraph
from voxtune.engine.models.info import LoadedModel

# 2: per-layer caches in the attention's own layout, cross keys/values broadcast over beams,
# logits at chosen positions only. Version 1 (stacked caches) is refused with a re-export hint.
GRAPH_FORMAT = 2


def alignment_heads(model) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    heads = getattr(model.generation_config, "alignment_heads", None) or []
    return [(int(layer), int(head)) for layer, head in heads]


def export_whisper_graphs(loaded: LoadedModel, out: Path) -> dict[str, object]:
    """Write the three graphs into ``out``; the metadata the runner needs back."""
    model = loaded.model.float().eval()
    config = model.config
    heads = alignment_heads(model)
    # The graph needs one alignment output even when the checkpoint names none; the runner
    # then ignores it (``alignment_heads`` in the metadata stays empty), as the torch path does.
    graph_heads = heads or [(config.decoder_layers - 1, 0)]
    layers, width = config.decoder_layers, config.d_model
    heads_n = config.decoder_attention_heads
    head_dim = width // heads_n
    features = torch.zeros(1, config.num_mel_bins, 2 * config.max_source_positions)
    with torch.inference_mode():
        states = model.model.encoder(features).last_hidden_state
    frames = states.shape[1]
    ids = torch.zeros(1, 2, dtype=torch.long)
    positions = torch.tensor([1], dtype=torch.long)
    past = torch.zeros(1, heads_n, 3, head_dim)
    cross_k = torch.zeros(1, heads_n, head_dim, frames)
    cross_v = torch.zeros(1, heads_n, frames, head_dim)
    names = cache_names(layers)
    cache_axes = {0: "batch", 2: "past"}
    cross_axes = {0: "cross_batch"}
    decoder_axes: dict[str, dict[int, str]] = {
        "input_ids": {0: "batch", 1: "tokens"},
        "logit_positions": {0: "positions"},
        "logits": {0: "batch", 1: "positions"},
        "alignment_scores": {0: "batch", 2: "tokens"},
    }
    for name in names["self_in"]:
        decoder_axes[name] = cache_axes
    for name in names["self_out"]:
        decoder_axes[name] = {0: "batch", 2: "total"}
    for name in names["cross"]:
        decoder_axes[name] = cross_axes
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python values
        export_graph(
            EncoderGraph(model), (features,), out / "encoder.onnx",
            ["input_features"], ["encoder_states"],
            {"input_features": {0: "batch"}, "encoder_states": {0: "batch"}},
        )  # fmt: skip
        export_graph(
            CrossKeyValues(model), (states,), out / "cross_kv.onnx",
            ["encoder_states"], names["cross"],
            {"encoder_states": {0: "batch"}, **{n: {0: "batch"} for n in names["cross"]}},
        )  # fmt: skip
        # Distinct tensors: the tracer would merge inputs fed the same tensor object.
        caches = [past.clone() for _ in range(2 * layers)]
        caches += [cross_k.clone() for _ in range(layers)]
        caches += [cross_v.clone() for _ in range(layers)]
        export_graph(
            DecoderStep(model, graph_heads), (ids, positions, *_interleave(caches, layers)),
            out / "decoder.onnx",
            ["input_ids", "logit_positions", *names["self_in"], *_pairs(names["cross"])],
            ["logits", *names["self_out"], "alignment_scores"],
            decoder_axes,
        )  # fmt: skip
    return {
        "alignment_heads": [list(h) for h in heads],
        "decoder_layers": layers,
        "d_model": width,
        "decoder_attention_heads": config.decoder_attention_heads,
        "vocab_size": config.vocab_size,
        "max_target_positions": config.max_target_positions,
        "encoder_frames": int(frames),
        "num_mel_bins": config.num_mel_bins,
        "graph_format": GRAPH_FORMAT,
    }


def cache_names(layers: int) -> dict[str, list[str]]:
    """Graph input/output names: the self-attention cache interleaved per layer (key, value),
    the cross-attention keys of every layer then its values (as ``cross_kv.onnx`` writes)."""
    self_in = [f"self_{kind}_{i}" for i in range(layers) for kind in ("key", "value")]
    return {
        "self_in": self_in,
        "self_out": [f"new_{name}" for name in self_in],
        "cross": [f"cross_key_{i}" for i in range(layers)]
        + [f"cross_value_{i}" for i in range(layers)],
    }


def _pairs(cross: list[str]) -> list[str]:
    """Cross names as the decoder takes them: key then value, layer by layer."""
    layers = len(cross) // 2
    return [name for i in range(layers) for name in (cross[i], cross[layers + i])]


def _interleave(caches: list[torch.Tensor], layers: int) -> list[torch.Tensor]:
    cross = caches[2 * layers :]
    return caches[: 2 * layers] + [cross[j] for i in range(layers) for j in (i, layers + i)]


def export_whisper(loaded: LoadedModel, out: Path) -> dict[str, object]:
    """Graphs, then what decoding needs beside them: tokenizer and feature extractor, model
    and generation configs."""
    metadata = export_whisper_graphs(loaded, out)
    loaded.processor.save_pretrained(str(out))
    loaded.model.config.save_pretrained(str(out))
    loaded.model.generation_config.save_pretrained(str(out))
    # config.json beside graphs is only for the tokenizer and for ``hf_directory_info``;
    # weights stay out (the graphs hold them).
    for stray in out.glob("*.safetensors"):
        stray.unlink()
    written = sorted(p.name for p in out.iterdir() if p.is_file())
    metadata["graphs"] = ["encoder.onnx", "cross_kv.onnx", "decoder.onnx"]
    metadata["files"] = written
    return metadata
