"""The one careful ``from_pretrained``: safetensors only, complete weights, clear errors.

Every model family loads through here, so each refuses the same things the same way:
weights that are missing (transformers would fill them with noise), a model that does not
fit, a device that is not there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voxtune.engine.errors import ModelError
from voxtune.engine.models.info import ModelInfo

if TYPE_CHECKING:
    import torch


def load_pretrained(
    info: ModelInfo,
    model_class: Any,
    processor_class: Any,
    device: str,
    dtype: torch.dtype,
    tied_weight: str,
) -> tuple[Any, Any]:
    """``(model, processor)``: the model in eval mode on ``device``.

    ``tied_weight`` is the output projection that the checkpoint may omit because it is
    tied to the input embeddings.
    """
    import torch
    from safetensors import SafetensorError

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"{info.name}: device {device} requested but no CUDA GPU is available")
    try:
        processor = processor_class.from_pretrained(str(info.location))
        model, loading = model_class.from_pretrained(
            str(info.location), dtype=dtype, use_safetensors=True, output_loading_info=True
        )
    except torch.OutOfMemoryError as exc:
        raise ModelError(f"{info.location}: does not fit in memory") from exc
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, SafetensorError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{info.location}: cannot load the model ({first_line})") from exc
    missing = [k for k in loading.get("missing_keys", ()) if k != tied_weight]
    if missing:
        raise ModelError(f"{info.location}: incomplete weights (missing {sorted(missing)[0]})")
    try:
        model = model.to(device)
    except torch.OutOfMemoryError as exc:
        raise ModelError(f"{info.location}: does not fit in {device} memory") from exc
    return model.eval(), processor
