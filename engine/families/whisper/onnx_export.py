"""Export a loaded Whisper to ONNX: ``encoder.onnx``, ``cross_kv.onnx``, ``decoder.onnx``.

The TorchScript exporter (``torch.onnx.export(dynamo=False)``) traces the small modules in
``onnx_graphs``; on torch 2.13 it handles their dynamic shapes (batch, cache length, tokens)
without the dynamo exporter's extra dependencies.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from voxtune.engine.export.onnx_files import OPSET
from voxtune.engine.families.whisper.onnx_graphs import CrossKeyValues, DecoderStep, EncoderGraph
from voxtune.engine.models.info import LoadedModel


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
    features = torch.zeros(1, config.num_mel_bins, 2 * config.max_source_positions)
    with torch.inference_mode():
        states = model.model.encoder(features).last_hidden_state
    frames = states.shape[1]
    ids = torch.zeros(1, 2, dtype=torch.long)
    past = torch.zeros(layers, 1, 3, width)
    cross = torch.zeros(layers, 1, frames, width)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python values
        _export(
            EncoderGraph(model), (features,), out / "encoder.onnx",
            ["input_features"], ["encoder_states"],
            {"input_features": {0: "batch"}, "encoder_states": {0: "batch"}},
        )  # fmt: skip
        _export(
            CrossKeyValues(model), (states,), out / "cross_kv.onnx",
            ["encoder_states"], ["cross_keys", "cross_values"],
            {"encoder_states": {0: "batch"}, "cross_keys": {1: "batch"},
             "cross_values": {1: "batch"}},
        )  # fmt: skip
        cache_axes = {1: "batch", 2: "past"}
        _export(
            DecoderStep(model, graph_heads), (ids, past, past, cross, cross),
            out / "decoder.onnx",
            ["input_ids", "self_keys", "self_values", "cross_keys", "cross_values"],
            ["logits", "new_self_keys", "new_self_values", "alignment_scores"],
            {"input_ids": {0: "batch", 1: "tokens"}, "self_keys": cache_axes,
             "self_values": cache_axes, "cross_keys": {1: "batch"},
             "cross_values": {1: "batch"}, "logits": {0: "batch", 1: "tokens"},
             "new_self_keys": {1: "batch", 2: "total"}, "new_self_values": {1: "batch", 2: "total"},
             "alignment_scores": {0: "batch", 2: "tokens"}},
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
    }


def _export(module, args, path: Path, inputs, outputs, axes) -> None:  # type: ignore[no-untyped-def]
    torch.onnx.export(
        module,
        args,
        str(path),
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=axes,
        opset_version=OPSET,
        dynamo=False,
    )


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
