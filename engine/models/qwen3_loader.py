"""Load a resolved Qwen3-ASR or Qwen3-ForcedAligner folder (native layout) with transformers."""

from __future__ import annotations

from voxtune.engine.errors import ModelError
from voxtune.engine.models.info import LoadedModel, ModelInfo
from voxtune.engine.models.qwen3_layout import FORCED_ALIGNER


def load_qwen3(info: ModelInfo, device: str, dtype: str) -> LoadedModel:
    import torch
    from safetensors import SafetensorError
    from transformers import (
        AutoProcessor,
        Qwen3ASRForConditionalGeneration,
        Qwen3ASRForTokenClassification,
    )

    if dtype == "int8":
        raise ModelError(f"{info.name}: int8 is for Whisper only; use float32 or bfloat16")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"{info.name}: device {device} requested but no CUDA GPU is available")
    torch_dtype: torch.dtype = getattr(torch, dtype)
    model_class = (
        Qwen3ASRForTokenClassification
        if info.family == FORCED_ALIGNER
        else Qwen3ASRForConditionalGeneration
    )
    try:
        processor = AutoProcessor.from_pretrained(str(info.location))
        model, loading = model_class.from_pretrained(
            str(info.location), dtype=torch_dtype, use_safetensors=True, output_loading_info=True
        )
    except torch.OutOfMemoryError as exc:
        raise ModelError(f"{info.location}: does not fit in memory") from exc
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, SafetensorError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{info.location}: cannot load the model ({first_line})") from exc
    # transformers only warns about missing weights and fills them with noise; refuse instead.
    missing = [k for k in loading.get("missing_keys", ()) if k != "lm_head.weight"]
    if missing:
        raise ModelError(f"{info.location}: incomplete weights (missing {sorted(missing)[0]})")
    try:
        model = model.to(device)
    except torch.OutOfMemoryError as exc:
        raise ModelError(f"{info.location}: does not fit in {device} memory") from exc
    model.eval()
    return LoadedModel(
        info=info, model=model, processor=processor, device=device, dtype=torch_dtype
    )
