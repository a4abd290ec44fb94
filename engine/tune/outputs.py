"""What a tune leaves behind: a PEFT adapter (or full model), a merged model, a registration.

The adapter directory is what ``peft.PeftModel.from_pretrained(base, DIR)`` loads; a merged
model is a plain Hugging Face model directory. A registration goes under the models folder
with a ``voxtune-model.json``, so ``--model NAME`` finds it: the adapter alone (the base is
loaded with it), or with ``--merge`` the merged model.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from voxtune.engine.errors import ModelError, VoxtuneError
from voxtune.engine.home import models_dir
from voxtune.engine.models import LoadedModel, load_model
from voxtune.engine.models.manifest import (
    ADAPTER_CONFIG,
    ADAPTER_SOURCE,
    ADAPTER_WEIGHTS,
    MANIFEST,
    WEIGHTS,
    Manifest,
    file_sha256,
    read_manifest,
)
from voxtune.engine.tune.adapter_record import TUNE_RECORD, recorded_base
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.tune.modeling import model_of

ADAPTER = "adapter"
FULL_MODEL = "model"
MERGED = "merged"
TUNED_SOURCE = "tuned"


def save_tuned(
    config: TuneConfig, trainable: torch.nn.Module, loaded: LoadedModel
) -> tuple[Path, Path | None, str | None]:
    """(adapter or full-model directory, merged directory, registered name).

    ``--register`` alone registers the adapter (small; the base loads with it); with
    ``--merge`` it registers the merged model instead.
    """
    model = model_of(trainable)
    model.config.use_cache = True
    if config.method == "full":
        adapter = config.out / FULL_MODEL
        _save_full(model, loaded, adapter)
        if config.register_as:
            return adapter, register_model(model, loaded, config.register_as), config.register_as
        return adapter, None, None
    adapter = config.out / ADAPTER
    trainable.save_pretrained(str(adapter), safe_serialization=True)
    record = {"base": config.base, "base_location": str(loaded.info.location)}
    (adapter / TUNE_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    if not config.merge:
        if config.register_as:
            register_adapter(adapter, loaded, _base_reference(config.base), config.register_as)
        return adapter, None, config.register_as
    merged_model = trainable.merge_and_unload()
    if config.register_as:
        target = register_model(merged_model, loaded, config.register_as)
        return adapter, target, config.register_as
    target = config.out / MERGED
    _save_full(merged_model, loaded, target)
    return adapter, target, None


def _save_full(model: torch.nn.Module, loaded: LoadedModel, directory: Path) -> None:
    model.save_pretrained(str(directory), safe_serialization=True)
    loaded.processor.save_pretrained(str(directory))


def _base_reference(base: str) -> str:
    """How a registration names its base: a model name as is, a folder as an absolute path
    (``--model NAME`` may run from anywhere)."""
    path = Path(base).expanduser()
    return str(path.resolve()) if path.exists() else base


def _registration_staging(name: str) -> tuple[Path, Path]:
    """(target, empty staging folder) for registering ``name``; refuses to replace a model
    that is not a tune."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise VoxtuneError(f"{name!r}: not a valid model name (no slashes, no leading dot)")
    target = models_dir() / name
    existing = read_manifest(target)
    if existing is not None and existing.source not in (TUNED_SOURCE, ADAPTER_SOURCE):
        raise VoxtuneError(f"{name}: a model of that name exists and is not a tune")
    staging = models_dir() / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return target, staging


def _publish(staging: Path, target: Path, manifest: Manifest) -> Path:
    (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def register_model(model: torch.nn.Module, loaded: LoadedModel, name: str) -> Path:
    """Save ``model`` under the models folder as ``name`` (replacing an earlier tune)."""
    target, staging = _registration_staging(name)
    _save_full(model, loaded, staging)
    manifest = Manifest(
        name=name,
        family=loaded.info.family,
        languages=loaded.info.languages,
        source=TUNED_SOURCE,
        sha256=file_sha256(staging / WEIGHTS),
        imported_from="",
        source_stamp="",
    )
    return _publish(staging, target, manifest)


def register_adapter(adapter: Path, loaded: LoadedModel, base: str, name: str) -> Path:
    """Register ``adapter`` as ``name``: the adapter and the processor, no copy of the base.

    The adapter config points at the base's folder, so ``from_pretrained`` on the registered
    folder loads the base and applies the adapter (transformers' PEFT integration).
    """
    target, staging = _registration_staging(name)
    for item in (ADAPTER_WEIGHTS, TUNE_RECORD):
        shutil.copyfile(adapter / item, staging / item)
    config = json.loads((adapter / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = str(loaded.info.location.resolve())
    (staging / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
    loaded.processor.save_pretrained(str(staging))
    manifest = Manifest(
        name=name,
        family=loaded.info.family,
        languages=loaded.info.languages,
        source=ADAPTER_SOURCE,
        sha256=file_sha256(staging / ADAPTER_WEIGHTS),
        imported_from=str(adapter.resolve()),
        source_stamp="",
        base=base,
    )
    return _publish(staging, target, manifest)


def load_with_adapter(adapter: Path, base: str | None = None, device: str = "cpu") -> LoadedModel:
    """The base model with ``adapter`` merged in, ready for ``Transcriber``."""
    from peft import PeftModel

    if not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"{adapter}: not a LoRA adapter directory (no adapter_config.json)")
    if not (adapter / ADAPTER_WEIGHTS).is_file():
        # Without it peft would try a pickled adapter_model.bin, or take the folder name for
        # a Hub id and send it over the network: a local adapter is safetensors or nothing.
        raise ModelError(f"{adapter}: no {ADAPTER_WEIGHTS} (adapters load from safetensors only)")
    if base is None:
        base = recorded_base(adapter)
    loaded = load_model(base, device=device, shared=False)  # the adapter merges into it
    try:
        # An absolute path: peft reads the safetensors file it finds there, and never a Hub.
        tuned = PeftModel.from_pretrained(loaded.model, str(adapter.resolve()))
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if len(first_line) > 160:  # peft lists every module it looked for
            first_line = first_line[:157] + "..."
        raise ModelError(f"{adapter}: adapter does not fit {base} ({first_line})") from None
    merged = tuned.merge_and_unload().eval()
    info = replace(loaded.info, name=f"{loaded.info.name}+{adapter.name}")
    return replace(loaded, info=info, model=merged)
