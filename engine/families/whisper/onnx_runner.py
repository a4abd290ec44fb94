"""A Whisper export run by onnxruntime, behind the same ``WhisperRunner`` interface as torch.

The decoding code (``window``, ``decoding``, ``alignment``, ``continuation``) is shared with
the torch backend, so the same options give the same Transcript: only the matrix work moves
to onnxruntime. Tensors cross as numpy arrays (no copies on the CPU).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from voxtune.engine.errors import ModelError

GRAPHS = ("encoder.onnx", "cross_kv.onnx", "decoder.onnx")


@dataclass
class OnnxCache:
    self_keys: np.ndarray  # [layers, batch, past, width]
    self_values: np.ndarray
    cross_keys: np.ndarray  # [layers, batch, frames, width], computed once per window
    cross_values: np.ndarray


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

        self.folder = folder
        self.metadata = metadata
        self.config = SimpleNamespace(**_json(folder / "config.json"))
        self.generation_config = SimpleNamespace(**_json(folder / "generation_config.json"))
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
        self.graph_heads = int(metadata.get("graph_alignment_heads", 1))

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")  # tensors handed back live on the CPU

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        [states] = self.encoder.run(None, {"input_features": _array(features)})
        return torch.from_numpy(states)

    def _fresh(self, states: torch.Tensor) -> OnnxCache:
        keys, values = self.cross_kv.run(None, {"encoder_states": _array(states)})
        empty = np.zeros((self.layers, keys.shape[1], 0, self.width), np.float32)
        return OnnxCache(empty, empty, keys, values)

    def _run(self, ids: torch.Tensor, cache: OnnxCache) -> tuple[np.ndarray, OnnxCache, Any]:
        logits, keys, values, scores = self.decoder.run(
            None,
            {
                "input_ids": _array(ids).astype(np.int64),
                "self_keys": cache.self_keys,
                "self_values": cache.self_values,
                "cross_keys": cache.cross_keys,
                "cross_values": cache.cross_values,
            },
        )
        return logits, OnnxCache(keys, values, cache.cross_keys, cache.cross_values), scores

    def decode(
        self, ids: torch.Tensor, states: torch.Tensor, cache: Any
    ) -> tuple[torch.Tensor, Any]:
        logits, cache, _ = self._run(ids, cache if cache is not None else self._fresh(states))
        return torch.from_numpy(logits), cache

    def reorder(self, cache: OnnxCache, rows: Sequence[int]) -> OnnxCache:
        index = np.asarray(list(rows), dtype=np.int64)
        return OnnxCache(
            cache.self_keys[:, index],
            cache.self_values[:, index],
            cache.cross_keys[:, index],
            cache.cross_values[:, index],
        )

    def crop(self, cache: OnnxCache, drop: int) -> OnnxCache:
        if not drop:
            return cache
        keep = cache.self_keys.shape[2] - drop
        return OnnxCache(
            cache.self_keys[:, :, :keep],
            cache.self_values[:, :, :keep],
            cache.cross_keys,
            cache.cross_values,
        )

    def teacher_forced(
        self, ids: torch.Tensor, states: torch.Tensor, heads: Sequence[tuple[int, int]]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, _, scores = self._run(ids, self._fresh(states))
        if not heads:
            return torch.from_numpy(logits), None
        return torch.from_numpy(logits), torch.from_numpy(scores)


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy())


def _json(path: Path) -> dict:
    if not path.is_file():
        raise ModelError(f"{path.parent}: incomplete ONNX export (missing {path.name})")
    return json.loads(path.read_text(encoding="utf-8"))


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
