"""Export a loaded Qwen3-ASR to ONNX: ``audio_encoder.onnx`` (encoder and projector, one audio
item per call) and ``decoder.onnx`` (one text-decoder step with a key/value cache).

The TorchScript exporter (``torch.onnx.export(dynamo=False)``), as for Whisper, traces the
modules of ``onnx_graphs``; their dynamic axes are the audio length, the batch, the tokens of a
step and the cached positions. A graph over 2 GB (0.6B's decoder in float32 is 2.4 GB) keeps
its weights as external data in one file beside it (``decoder.onnx.data``), which
``onnx.checker`` and onnxruntime read from the graph's folder.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from voxtune.engine.export.onnx_files import export_graph
from voxtune.engine.families.qwen3_asr.onnx_graphs import AudioEncoderGraph, DecoderStep
from voxtune.engine.models.info import LoadedModel

GRAPHS = ("audio_encoder.onnx", "decoder.onnx")


def cache_names(layers: int, prefix: str) -> list[str]:
    """``past_key_values.{i}.key`` / ``.value`` (inputs), ``present.{i}.…`` (outputs)."""
    return [f"{prefix}.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]


def export_qwen3_graphs(loaded: LoadedModel, out: Path) -> dict[str, object]:
    """Write both graphs into ``out``; the metadata the runner needs back."""
    model = loaded.model.float().eval()
    audio, text = model.config.audio_config, model.config.text_config
    layers = text.num_hidden_layers
    head_dim = getattr(text, "head_dim", text.hidden_size // text.num_attention_heads)
    chunk = 2 * audio.n_window
    features = torch.zeros(1, audio.num_mel_bins, 2 * chunk)
    length = torch.tensor([int(1.5 * chunk)], dtype=torch.long)
    encoder = AudioEncoderGraph(model)
    with torch.inference_mode():
        rows = encoder(features, length)
    batch, tokens, cached = 2, 3, 4
    ids = torch.full((batch, tokens), int(model.config.audio_token_id), dtype=torch.long)
    mask = torch.ones(batch, cached + tokens, dtype=torch.long)
    positions = torch.arange(cached, cached + tokens).expand(batch, tokens)
    audio_rows = rows[: batch * tokens].repeat(2, 1)[: batch * tokens]
    past = [torch.zeros(batch, text.num_key_value_heads, cached, head_dim)] * (2 * layers)
    inputs, outputs = cache_names(layers, "past_key_values"), cache_names(layers, "present")
    cache_axes = {0: "batch", 2: "past"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python values
        export_graph(
            encoder, (features, length), out / GRAPHS[0],
            ["input_features", "feature_length"], ["audio_features"],
            {"input_features": {2: "frames"}, "audio_features": {0: "audio_tokens"}},
        )  # fmt: skip
        export_graph(
            DecoderStep(model), (ids, mask, positions, audio_rows, *past), out / GRAPHS[1],
            ["input_ids", "attention_mask", "position_ids", "audio_features", *inputs],
            ["logits", *outputs],
            {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "total"},
             "position_ids": {0: "batch", 1: "tokens"}, "audio_features": {0: "audio_tokens"},
             "logits": {0: "batch"},
             **{name: cache_axes for name in inputs},
             **{name: {0: "batch", 2: "total"} for name in outputs}},
        )  # fmt: skip
    return {
        "decoder_layers": layers,
        "key_value_heads": text.num_key_value_heads,
        "head_dim": head_dim,
        "hidden_size": text.hidden_size,
        "vocab_size": text.vocab_size,
        "audio_token_id": int(model.config.audio_token_id),
        "mel_chunk_frames": chunk,
        "num_mel_bins": audio.num_mel_bins,
        # int8 with per-tensor scales: on the tiny test model the first step's logits moved
        # by up to 0.46 (of 9.4) against 2.8 with per-channel scales (encoder 0.24 against
        # 2.5, decoder 0.50 against 1.26, each quantised alone).
        "int8_per_channel": False,
    }


def export_qwen3(loaded: LoadedModel, out: Path) -> dict[str, object]:
    """Graphs, then what decoding needs beside them: tokenizer, processor (feature extractor
    and chat template), model and generation configs."""
    metadata = export_qwen3_graphs(loaded, out)
    loaded.processor.save_pretrained(str(out))
    loaded.model.config.save_pretrained(str(out))
    loaded.model.generation_config.save_pretrained(str(out))
    # config.json beside the graphs is for the processor and the folder's description; the
    # weights stay out (the graphs hold them).
    for stray in out.glob("*.safetensors"):
        stray.unlink()
    metadata["graphs"] = list(GRAPHS)
    metadata["files"] = sorted(p.name for p in out.iterdir() if p.is_file())
    return metadata
