"""Load a resolved Whisper into memory with transformers, once per (model, device, dtype)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.layout import QWEN3_FAMILIES
from voxtune.engine.models.info import DEFAULT_MODEL, LoadedModel, ModelInfo
from voxtune.engine.models.pretrained import load_pretrained
from voxtune.engine.models.registry import resolve_model

if TYPE_CHECKING:
    import torch

# "int8": float32 activations, Linear weights quantised to int8 (CPU; torch dynamic quantisation).
DTYPES = ("float32", "float16", "bfloat16", "int8")
DEVICES = ("cpu", "cuda")
# The CLI and the engine ask for the same model again and again; keep what was loaded.
_cache: dict[tuple[str, str, str], LoadedModel] = {}


def load_model(
    name_or_path: str = DEFAULT_MODEL,
    device: str = "cpu",
    dtype: str = "float32",
    *,
    shared: bool = True,
) -> LoadedModel:
    """The model ready for ``generate``: eval mode, on ``device``, weights in ``dtype``.

    ``shared=False``: weights of the caller's own, outside the cache, to change in place
    (a tune trains them, an adapter merges into them) without a second copy in memory."""
    if dtype not in DTYPES:
        raise ModelError(f"{dtype!r}: unsupported dtype (choose from {', '.join(DTYPES)})")
    if device.split(":")[0] not in DEVICES:
        raise ModelError(f"{device!r}: unsupported device (choose cpu or cuda)")
    info = resolve_model(name_or_path)
    if not shared:
        return _load(info, device, dtype)
    key = (str(info.location), device, dtype)
    if key not in _cache:
        _cache[key] = _load(info, device, dtype)
    return _cache[key]


def clear_model_cache() -> None:
    """Forget loaded models (tests, or after a model folder was replaced)."""
    _cache.clear()


def _load(info: ModelInfo, device: str, dtype: str) -> LoadedModel:
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    if info.family in QWEN3_FAMILIES:
        from voxtune.engine.families.qwen3_asr.loader import load_qwen3

        return load_qwen3(info, device, dtype)
    if info.family != "whisper":
        raise ModelError(f"{info.location}: a {info.family} model; only Whisper loads here")
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
