"""Load a resolved Qwen3-ASR or Qwen3-ForcedAligner folder (native layout) with transformers."""

from __future__ import annotations

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.layout import FORCED_ALIGNER
from voxtune.engine.families.qwen3_asr.memory import check_fits, weight_bytes
from voxtune.engine.models.info import LoadedModel, ModelInfo
from voxtune.engine.models.pretrained import load_pretrained


def load_qwen3(info: ModelInfo, device: str, dtype: str) -> LoadedModel:
    import torch
    from transformers import (
        AutoProcessor,
        Qwen3ASRForConditionalGeneration,
        Qwen3ASRForTokenClassification,
    )

    if dtype == "int8":
        raise ModelError(f"{info.name}: int8 is for Whisper only; use float32 or bfloat16")
    if dtype == "float16" and not device.startswith("cuda"):
        # Many CPU kernels have no float16 path (and those that do are slow); bfloat16 has.
        raise ModelError(f"{info.name}: float16 is for GPUs; on the CPU use float32 or bfloat16")
    if device.startswith("cuda") and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        check_fits(info.name, weight_bytes(info.location, dtype), free, device, dtype)
    torch_dtype: torch.dtype = getattr(torch, dtype)
    model_class = (
        Qwen3ASRForTokenClassification
        if info.family == FORCED_ALIGNER
        else Qwen3ASRForConditionalGeneration
    )
    model, processor = load_pretrained(
        info, model_class, AutoProcessor, device, torch_dtype, tied_weight="lm_head.weight"
    )
    return LoadedModel(
        info=info, model=model, processor=processor, device=device, dtype=torch_dtype
    )
