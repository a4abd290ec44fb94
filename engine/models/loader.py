"""Load a resolved model with torch through its family, once per (model, device, dtype)."""

from __future__ import annotations

from voxtune.engine.errors import ModelError
from voxtune.engine.models.cache import ModelMemoryCache
from voxtune.engine.models.info import DEFAULT_MODEL, LoadedModel, ModelInfo
from voxtune.engine.models.registry import resolve_model

# "int8": float32 activations, Linear weights quantised to int8 (CPU; torch dynamic quantisation).
DTYPES = ("float32", "float16", "bfloat16", "int8")
DEVICES = ("cpu", "cuda")
# The CLI and the engine ask for the same model again and again; keep what was loaded, within
# a memory budget (least recently used goes first).
model_cache = ModelMemoryCache()


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
    check_placement(device, dtype)  # before resolving: a typo costs no import
    return load_resolved(resolve_model(name_or_path), device, dtype, shared=shared)


def load_resolved(
    info: ModelInfo, device: str = "cpu", dtype: str = "float32", *, shared: bool = True
) -> LoadedModel:
    """``load_model`` for a model already resolved (its family asked, its request checked)."""
    check_placement(device, dtype)
    if not shared:
        return _load(info, device, dtype)
    key = (str(info.location), device, dtype)
    if (loaded := model_cache.get(key)) is None:
        loaded = _load(info, device, dtype)
        model_cache.put(key, loaded)
    return loaded


def check_placement(device: str, dtype: str) -> None:
    if dtype not in DTYPES:
        raise ModelError(f"{dtype!r}: unsupported dtype (choose from {', '.join(DTYPES)})")
    if device.split(":")[0] not in DEVICES:
        raise ModelError(f"{device!r}: unsupported device (choose cpu or cuda)")


def clear_model_cache() -> None:
    """Forget loaded models (tests, or after a model folder was replaced)."""
    model_cache.clear()


def _load(info: ModelInfo, device: str, dtype: str) -> LoadedModel:
    from voxtune.engine.families.table import family_of

    quiet_transformers()
    return family_of(info).load(info, device, dtype)


def quiet_transformers() -> None:
    """No "Loading weights" progress bar or advice from transformers on stderr: a command's
    stderr is its own lines (``voxtune: wrote …``), and the engine reports through events.
    The Hub's download bars stay (a model fetched on first use shows its progress). Without
    the bar, tqdm also never creates its multiprocessing lock, a semaphore that could be
    reported as leaked at exit."""
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as hf_logging

    hub_bars = not are_progress_bars_disabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # transformers' switch turns off the Hub's bars too
    if hub_bars:
        enable_progress_bars()
