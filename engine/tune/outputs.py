"""What a tune leaves behind: a PEFT adapter (or full model), a merged model, a registration.

The adapter directory is what ``peft.PeftModel.from_pretrained(base, DIR)`` loads; a merged
model is a plain Hugging Face Whisper directory; a registered model is a merged one under
the models folder with a ``voxtune-model.json``, so ``--model NAME`` finds it.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from voxtune.app.paths import models_dir
from voxtune.engine.errors import ModelError, VoxtuneError
from voxtune.engine.models import LoadedModel, load_model
from voxtune.engine.models.manifest import MANIFEST, WEIGHTS, Manifest, file_sha256
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.tune.modeling import whisper_of

ADAPTER = "adapter"
FULL_MODEL = "model"
MERGED = "merged"
TUNED_SOURCE = "tuned"
TUNE_RECORD = "voxtune-tune.json"


def save_tuned(
    config: TuneConfig, trainable: torch.nn.Module, loaded: LoadedModel
) -> tuple[Path, Path | None, str | None]:
    """(adapter or full-model directory, merged directory, registered name)."""
    whisper = whisper_of(trainable)
    whisper.config.use_cache = True
    if config.method == "lora":
        adapter = config.out / ADAPTER
        trainable.save_pretrained(str(adapter), safe_serialization=True)
        record = {"base": config.base, "base_location": str(loaded.info.location)}
        (adapter / TUNE_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
        merged_model = trainable.merge_and_unload() if config.merge or config.register_as else None
    else:
        adapter = config.out / FULL_MODEL
        _save_full(whisper, loaded, adapter)
        merged_model = whisper
    if merged_model is None:
        return adapter, None, None
    if config.register_as:
        target = register_model(merged_model, loaded, config.register_as)
        return adapter, target, config.register_as
    target = config.out / MERGED
    _save_full(merged_model, loaded, target)
    return adapter, target, None


def _save_full(model: torch.nn.Module, loaded: LoadedModel, directory: Path) -> None:
    model.save_pretrained(str(directory), safe_serialization=True)
    loaded.processor.save_pretrained(str(directory))


def register_model(model: torch.nn.Module, loaded: LoadedModel, name: str) -> Path:
    """Save ``model`` under the models folder as ``name`` (replacing an earlier tune)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise VoxtuneError(f"{name!r}: not a valid model name (no slashes, no leading dot)")
    target = models_dir() / name
    existing = target / MANIFEST
    if (
        existing.is_file()
        and json.loads(existing.read_text(encoding="utf-8")).get("source") != TUNED_SOURCE
    ):
        raise VoxtuneError(f"{name}: a model of that name exists and is not a tune")
    staging = models_dir() / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
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
    (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def load_with_adapter(adapter: Path, base: str | None = None, device: str = "cpu") -> LoadedModel:
    """The base model with ``adapter`` merged in, ready for ``Transcriber``."""
    from peft import PeftModel

    if not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"{adapter}: not a LoRA adapter directory (no adapter_config.json)")
    if base is None:
        base = _recorded_base(adapter)
    loaded = load_model(base, device=device)
    try:
        tuned = PeftModel.from_pretrained(copy.deepcopy(loaded.model), str(adapter))
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"{adapter}: adapter does not fit {base} ({first_line})") from None
    merged = tuned.merge_and_unload().eval()
    info = replace(loaded.info, name=f"{loaded.info.name}+{adapter.name}")
    return replace(loaded, info=info, model=merged)


def _recorded_base(adapter: Path) -> str:
    record = adapter / TUNE_RECORD
    if record.is_file():
        return str(json.loads(record.read_text(encoding="utf-8"))["base"])
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    return str(config.get("base_model_name_or_path") or "whisper-tiny.en")
