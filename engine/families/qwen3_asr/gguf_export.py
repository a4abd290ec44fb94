"""Qwen3-ASR's side of ``voxtune export gguf`` and of the llamacpp backend: the files an
export folder holds, and loading them back as a model llama.cpp decodes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.gguf_writer import (
    MMPROJ_FILE,
    TEXT_FILE,
    check_quant,
    write_qwen3_gguf,
)
from voxtune.engine.models.info import LoadedModel, ModelInfo


def export_qwen3_gguf(loaded: LoadedModel, out: Path, quant: str) -> dict[str, Any]:
    """The two GGUF files and the processor (tokenizer, mel settings, chat template) Voxtune
    prompts with; the metadata ``load_gguf_qwen3`` needs."""
    check_quant(quant)
    if not isinstance(loaded.model, _torch_module()):
        raise ModelError(f"{loaded.info.name}: a GGUF export is made from the torch model")
    written = write_qwen3_gguf(loaded, out, quant)
    before = {p.name for p in out.iterdir()}
    loaded.processor.save_pretrained(str(out))
    processor_files = sorted({p.name for p in out.iterdir() if p.is_file()} - before)
    eos = loaded.model.generation_config.eos_token_id
    return {
        "format": "gguf",
        "engine": "llamacpp",
        "text_model": TEXT_FILE,
        "mmproj": MMPROJ_FILE,
        "eos_token_ids": list(eos) if isinstance(eos, list | tuple) else [eos],
        "tensors": written.tensors,
        "keys": written.keys,
        "warnings": list(written.warnings),
        "files": [*written.files, *processor_files],
    }


def load_gguf_qwen3(info: ModelInfo, metadata: Mapping[str, Any], device: str) -> LoadedModel:
    """The export's GGUF pair in llama.cpp (CPU) and its processor, as a LoadedModel."""
    import torch
    from transformers import Qwen3ASRProcessor

    from voxtune.engine.families.qwen3_asr.llamacpp_runner import LlamaCppQwen3

    if device != "cpu":
        raise ModelError(f"{info.name}: the llamacpp backend here is llama.cpp's CPU build")
    folder = info.location
    try:
        processor = Qwen3ASRProcessor.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: unreadable processor files ({exc})") from exc
    runner = LlamaCppQwen3(
        folder / str(metadata["text_model"]),
        folder / str(metadata["mmproj"]),
        threads=_threads(),
        stop=tuple(int(t) for t in metadata.get("eos_token_ids", ())),
    )
    return LoadedModel(
        info=info, model=runner, processor=processor, device="cpu", dtype=torch.float32
    )


def _threads() -> int:
    """The cores this process may use (``torch.get_num_threads`` is what the CLI set)."""
    import torch

    return max(1, min(torch.get_num_threads(), len(os.sched_getaffinity(0))))


def _torch_module() -> type:
    import torch

    return torch.nn.Module
