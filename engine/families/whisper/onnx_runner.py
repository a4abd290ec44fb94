"""A Whisper export run by onnxruntime, behind the same ``WhisperRunner`` interface as torch.

The decoding code (``window``, ``decoding``, ``alignment``, ``continuation``) is shared with
the torch backend, so the same options give the same Transcript: only the matrix work moves
to onnxruntime. Tensors cross as numpy arrays (no copies on the CPU).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from voxtune.engine.errors import ModelError
from voxtune.engine.export.folder import read_export_json

GRAPHS = ("encoder.onnx", "cross_kv.onnx", "decoder.onnx")


@dataclass
class OnnxCache:
    # Per layer, interleaved key, value: [batch, heads, past, head_dim] each.
    self_attention: list[np.ndarray]
    # Per layer, interleaved key ([batch, heads, head_dim, frames]), value; computed once per
    # window. Batch 1 under beam search: every beam hears the same audio.
    cross_attention: list[np.ndarray]

    @property
    def batch(self) -> int:
        return self.self_attention[0].shape[0]


def session_options(threads: int | None = None):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # One operator at a time, each over all cores: on 2 cores as on 16 this measured best
    # for a decoder that runs one small step after another.
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or torch.get_num_threads() or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    return options


def providers(device: str) -> list[str]:
    import onnxruntime as ort

    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device != "cpu":
        raise ModelError(f"onnx backend: no CUDA execution provider for device {device}")
    return ["CPUExecutionProvider"]


class OnnxRunner:
    def __init__(self, folder: Path, metadata: dict, device: str = "cpu") -> None:
        import onnxruntime as ort

        from voxtune.engine.families.whisper.onnx_export import GRAPH_FORMAT, cache_names

        if metadata.get("graph_format") != GRAPH_FORMAT:
            raise ModelError(
                f"{folder}: an ONNX export from an earlier Voxtune (graph format "
                f"{metadata.get('graph_format', 1)}, this one reads {GRAPH_FORMAT}); "
                "export it again with `voxtune export onnx`"
            )
        self.folder = folder
        self.metadata = metadata
        self.config = SimpleNamespace(**read_export_json(folder / "config.json", "ONNX"))
        generation = read_export_json(folder / "generation_config.json", "ONNX")
        self.generation_config = SimpleNamespace(**generation)
        options, chosen = session_options(), providers(device)
        try:
            self.encoder, self.cross_kv, self.decoder = (
                ort.InferenceSession(str(folder / name), options, providers=chosen)
                for name in GRAPHS
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{folder}: cannot load the ONNX export ({line})") from exc
        self.layers = int(metadata["decoder_layers"])
        self.width = int(metadata["d_model"])
        self.heads = int(metadata["decoder_attention_heads"])
        names = cache_names(self.layers)
        self.self_inputs = names["self_in"]
        # cross_kv.onnx writes every key, then every value; the decoder takes them per layer.
        self.cross_order = [j for i in range(self.layers) for j in (i, self.layers + i)]
        self.cross_inputs = [names["cross"][j] for j in self.cross_order]

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")  # tensors handed back live on the CPU

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        [states] = self.encoder.run(None, {"input_features": _array(features)})
        return torch.from_numpy(states)

    def _fresh(self, states: torch.Tensor) -> OnnxCache:
        if states.shape[0] > 1 and states.stride(0) == 0:
            states = states[:1]  # rows expanded from one window (a beam): encode it once
        outputs = self.cross_kv.run(None, {"encoder_states": _array(states)})
        empty = np.zeros((states.shape[0], self.heads, 0, self.width // self.heads), np.float32)
        return OnnxCache([empty] * (2 * self.layers), [outputs[j] for j in self.cross_order])

    def _run(
        self, ids: torch.Tensor, cache: OnnxCache, logits_from: int
    ) -> tuple[np.ndarray, OnnxCache, Any]:
        batch, length = ids.shape
        self_cache = cache.self_attention
        if cache.batch != batch:  # a fresh cache of a beam: its empty rows, one per beam
            self_cache = [np.zeros((batch, *a.shape[1:]), np.float32) for a in self_cache]
        feeds: dict[str, np.ndarray] = {
            "input_ids": _array(ids).astype(np.int64, copy=False),
            "logit_positions": np.arange(logits_from, length, dtype=np.int64),
        }
        feeds.update(zip(self.self_inputs, self_cache, strict=True))
        feeds.update(zip(self.cross_inputs, cache.cross_attention, strict=True))
        outputs = self.decoder.run(None, feeds)
        grown = OnnxCache(outputs[1:-1], cache.cross_attention)
        return outputs[0], grown, outputs[-1]

    def decode(
        self, ids: torch.Tensor, states: torch.Tensor, cache: Any, logits_from: int = 0
    ) -> tuple[torch.Tensor, Any]:
        fresh = cache if cache is not None else self._fresh(states)
        logits, cache, _ = self._run(ids, fresh, logits_from)
        return torch.from_numpy(logits), cache

    def reorder(self, cache: OnnxCache, rows: Sequence[int]) -> OnnxCache:
        index = np.asarray(list(rows), dtype=np.int64)
        cross = cache.cross_attention
        if cross[0].shape[0] != 1:  # a batch-1 cross cache serves any number of beams
            cross = [a[index] for a in cross]
        return OnnxCache([a[index] for a in cache.self_attention], cross)

    def crop(self, cache: OnnxCache, drop: int) -> OnnxCache:
        if not drop:
            return cache
        keep = cache.self_attention[0].shape[2] - drop
        kept = [np.ascontiguousarray(a[:, :, :keep]) for a in cache.self_attention]
        return OnnxCache(kept, cache.cross_attention)

    def teacher_forced(
        self, ids: torch.Tensor, states: torch.Tensor, heads: Sequence[tuple[int, int]]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, _, scores = self._run(ids, self._fresh(states), 0)
        if not heads:
            return torch.from_numpy(logits), None
        return torch.from_numpy(logits), torch.from_numpy(scores)


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy())


def load_onnx_whisper(info, metadata: dict, device: str):  # type: ignore[no-untyped-def]
    """``LoadedModel`` whose ``model`` is an ``OnnxRunner`` (the decoding code asks it)."""
    from transformers import WhisperProcessor

    from voxtune.engine.models.info import LoadedModel

    folder = info.location
    try:
        processor = WhisperProcessor.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: incomplete ONNX export (tokenizer: {exc})") from exc
    runner = OnnxRunner(folder, metadata, device)
    return LoadedModel(
        info=info, model=runner, processor=processor, device="cpu", dtype=torch.float32
    )
