"""Load a resolved Whisper into memory with transformers (float, or int8 on the CPU)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError
from voxtune.engine.models.info import LoadedModel, ModelInfo
from voxtune.engine.models.pretrained import load_pretrained

if TYPE_CHECKING:
    import torch


def load_whisper(info: ModelInfo, device: str, dtype: str) -> LoadedModel:
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    quantise = dtype == "int8"
    if quantise and device != "cpu":
        raise ModelError(f"{info.name}: int8 runs on the CPU only; use float16 on {device}")
    torch_dtype: torch.dtype = torch.float32 if quantise else getattr(torch, dtype)
    model, processor = load_pretrained(
        info,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        device,
        torch_dtype,
        tied_weight="proj_out.weight",
    )
    if quantise:
        model = _quantised(model)
    return LoadedModel(
        info=info, model=model, processor=processor, device=device, dtype=torch_dtype
    )


def _quantised(model):  # type: ignore[no-untyped-def]
    """int8 weights for every Linear layer, the way CTranslate2's int8 works on a CPU."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
