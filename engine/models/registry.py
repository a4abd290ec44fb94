"""Find a model by name or path: built-ins, earlier imports, local folders, Hub ids.

Resolving may import (a built-in on first use, a CTranslate2 folder given by path) but never
loads weights into memory for inference; ``loader.load_model`` does that.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError
from voxtune.engine.export.gguf_files import gguf_export_info, is_gguf_export
from voxtune.engine.export.onnx_files import is_onnx_export, onnx_export_info

# The module, not its names: it imports this package, so either may be imported first.
from voxtune.engine.families.qwen3_asr import registry as qwen3
from voxtune.engine.home import models_dir
from voxtune.engine.models.builtin import BUILTIN_MODELS
from voxtune.engine.models.ct2_source import CT2Source
from voxtune.engine.models.info import ModelInfo
from voxtune.engine.models.manifest import (
    ADAPTER_SOURCE,
    WEIGHTS,
    Manifest,
    directory_size,
    manifest_info,
    read_manifest,
    verify_adapter,
    verify_weights,
)
from voxtune.engine.models.whisper_tokenizer_files import (
    MULTILINGUAL_VOCAB_SIZE,
    read_vocabulary,
    vocabulary_languages,
)

LOCAL_SOURCE = "local"
if TYPE_CHECKING:
    from voxtune.engine.models.download_meter import DownloadMeter

IMPORTED_SOURCE = "imported"
EMBEDDED_SOURCE = "embedded"
# Manifests already checked against their weights in this process: (path, size, mtime).
_verified: set[tuple[str, int, int]] = set()


def resolve_model(name_or_path: str) -> ModelInfo:
    """The model ``name_or_path`` names, imported if needed; ModelError when there is none."""
    if name_or_path in BUILTIN_MODELS:
        return _builtin(name_or_path)
    if name_or_path in qwen3.QWEN3_MODELS:
        return qwen3.resolve_qwen3(name_or_path)
    imported = models_dir() / name_or_path
    if _is_plain_name(name_or_path) and is_onnx_export(imported):
        return onnx_export_info(imported, name_or_path)
    if _is_plain_name(name_or_path) and (manifest := read_manifest(imported)):
        if manifest.source == ADAPTER_SOURCE:
            return _registered_adapter(imported, manifest)
        return _imported(imported, manifest)
    path = Path(name_or_path).expanduser()
    if path.exists() or name_or_path.startswith((".", "/", "~")):
        return _local_path(path)
    if name_or_path.count("/") == 1:
        from voxtune.engine.models.hub import cached_hub_model

        return cached_hub_model(name_or_path)
    raise ModelError(f"unknown model '{name_or_path}' (available: {', '.join(_available_names())})")


def list_models() -> list[ModelInfo]:
    """Built-ins (imported or not) first, then the Qwen3-ASR registry entries (downloaded or
    not: ``size_bytes`` 0), then every other imported model, by name."""
    infos = [_builtin_listing(name) for name in BUILTIN_MODELS]
    infos.extend(qwen3.qwen3_listing(name) for name in qwen3.QWEN3_MODELS)
    for folder in sorted(models_dir().iterdir()):
        if folder.name in BUILTIN_MODELS or folder.name in qwen3.QWEN3_MODELS:
            continue
        if folder.name.startswith("."):
            continue
        if manifest := read_manifest(folder):
            infos.append(manifest_info(folder, manifest))
        elif is_onnx_export(folder):
            infos.append(onnx_export_info(folder, folder.name))
    return infos


def listed_languages(name: str) -> tuple[str, ...]:
    """The languages of a listed model (built-ins, the registry, imports), known without
    importing, converting or loading anything; () for a name that is not listed (a folder).

    For checking a request up front where an import would be wrong: in a light client, or on
    the engine's command thread while a job's thread may be importing transformers."""
    listed = next((m for m in list_models() if m.name == name), None)
    return listed.languages if listed is not None else ()


def fetch_model(name: str, meter: DownloadMeter | None = None) -> ModelInfo:
    """Download ``name`` now: a registry name (``qwen3-asr-0.6b``) or a Hub id (``org/name``).

    The CLI's ``models pull`` and the engine's PullModel share this, so both accept the names
    ``models list`` shows. ``meter`` (the engine's) counts the bytes and may cancel."""
    from voxtune.engine.models.hub import pull_model

    if name in BUILTIN_MODELS:
        raise ModelError(f"{name}: built in, nothing to fetch")
    if name in qwen3.QWEN3_MODELS:  # a registry name stands for its Hub id
        if meter is not None:
            try:
                return qwen3.resolve_qwen3(name, download=False)
            except ModelError:
                pull_model(qwen3.QWEN3_MODELS[name], meter)
        return qwen3.resolve_qwen3(name)
    return pull_model(name, meter)


def import_folder(path: Path, name: str | None = None) -> ModelInfo:
    """``voxtune models import``: a CTranslate2 Whisper folder, or a Qwen3-ASR folder in either
    layout (converted to the native one), into the model store as ``name``."""
    path = Path(path).expanduser()
    chosen = name or path.resolve().name
    # A built-in or registry name resolves to that model first: an import under it would be
    # accepted, then never used.
    if chosen in BUILTIN_MODELS or chosen in qwen3.QWEN3_MODELS:
        raise ModelError(f"{chosen!r}: a built-in or registry name (choose another --name)")
    if path.is_dir() and is_onnx_export(path):
        return _import_onnx_export(path, chosen)
    if path.is_dir() and not (path / "model.bin").is_file() and (path / "config.json").is_file():
        from voxtune.engine.families.qwen3_asr.layout import qwen3_family, read_config

        if qwen3_family(read_config(path)) is not None:
            if not _is_plain_name(chosen):
                raise ModelError(f"{chosen!r}: not a valid model name (choose another --name)")
            return qwen3.import_qwen3(path, chosen)
    from voxtune.engine.models.ctranslate2_import import import_ctranslate2

    return import_ctranslate2(path, name=name)


def _import_onnx_export(path: Path, name: str) -> ModelInfo:
    """An ONNX export is copied whole into the model store (checked complete first)."""
    import shutil

    from voxtune.engine.export.onnx_files import read_metadata
    from voxtune.engine.models.staging import staged_folder

    if not _is_plain_name(name):
        raise ModelError(f"{name!r}: not a valid model name (choose another --name)")
    read_metadata(path)  # a partial export is refused before anything is copied
    target = models_dir() / name
    if target.exists():
        raise ModelError(f"{target}: a model named {name!r} exists (choose another --name)")
    with staged_folder(target) as staging:  # a failed copy leaves nothing behind
        shutil.copytree(path, staging, dirs_exist_ok=True)
    return onnx_export_info(target, name)


def _is_plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def _available_names() -> list[str]:
    return [info.name for info in list_models()]


def _imported(directory: Path, manifest: Manifest) -> ModelInfo:
    """An earlier import; a damaged one is imported again while its source is still there."""
    try:
        _verify(directory, manifest)
    except ModelError:
        origin = Path(manifest.imported_from) if manifest.imported_from else None
        if origin is None or not (origin / "model.bin").is_file():
            raise
        return _import(CT2Source.directory(origin), manifest.name, manifest.source)
    return manifest_info(directory, manifest)


def _registered_adapter(directory: Path, manifest: Manifest) -> ModelInfo:
    """A tune registered as a LoRA adapter (``voxtune finetune --register``): its base must
    resolve; loading the folder then loads the base with the adapter applied (PEFT)."""
    base = resolve_model(manifest.base)
    verify_adapter(directory, manifest, base.location.resolve())
    return manifest_info(directory, manifest)


def _builtin(name: str) -> ModelInfo:
    target = models_dir() / name
    source = BUILTIN_MODELS[name]()
    manifest = read_manifest(target)
    if manifest is not None and manifest.source_stamp == source.stamp():
        try:
            _verify(target, manifest)
            return manifest_info(target, manifest)
        except ModelError:
            pass  # a damaged cache of a built-in is simply imported again
    return _import(source, name, EMBEDDED_SOURCE)


def _builtin_listing(name: str) -> ModelInfo:
    """A built-in as ``list_models`` shows it; ``size_bytes`` is 0 until it is imported."""
    target = models_dir() / name
    if manifest := read_manifest(target):
        return manifest_info(target, manifest)
    try:
        source = BUILTIN_MODELS[name]()
        languages = vocabulary_languages(read_vocabulary(source.files) or [])
    except ModelError:
        languages = ()
    return ModelInfo(name, "whisper", languages, 0, target, EMBEDDED_SOURCE)


def _local_path(path: Path) -> ModelInfo:
    if not path.exists():
        raise ModelError(f"{path}: no such model directory")
    if path.is_file():
        # Imported here: the ggml reader needs numpy, which the batch client never loads.
        from voxtune.engine.export.ggml_files import ggml_model_info, is_ggml_file

        if is_ggml_file(path) or path.suffix == ".bin":
            return ggml_model_info(path)  # whisper.cpp's model file (checked whole)
    if not path.is_dir():
        raise ModelError(f"{path}: not a directory (a model is a folder)")
    if (path / "model.bin").is_file():
        return _ctranslate2_path(path)
    if is_onnx_export(path):
        return onnx_export_info(path, path.name)
    if is_gguf_export(path):
        return gguf_export_info(path, path.name)
    if (path / "config.json").is_file():
        return hf_directory_info(path, LOCAL_SOURCE)
    raise ModelError(f"{path}: not a model directory (no model.bin or config.json)")


def _ctranslate2_path(path: Path) -> ModelInfo:
    """Import a CTranslate2 folder once; reuse that import while the source is unchanged."""
    source = CT2Source.directory(path)
    resolved = str(path.resolve())
    name = path.resolve().name
    existing = read_manifest(models_dir() / name)
    if existing is not None and existing.imported_from != resolved:
        name = f"{name}-{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"
        existing = read_manifest(models_dir() / name)
    if existing is not None and existing.source_stamp == source.stamp():
        try:
            _verify(models_dir() / name, existing)
            return manifest_info(models_dir() / name, existing)
        except ModelError:
            pass
    return _import(source, name, IMPORTED_SOURCE)


def _import(source: CT2Source, name: str, kind: str) -> ModelInfo:
    from voxtune.engine.models.ctranslate2_import import import_source

    info = import_source(source, name, kind)
    _remember_verified(info.location / WEIGHTS)
    return info


def _verify(directory: Path, manifest: Manifest) -> None:
    weights = directory / WEIGHTS
    try:
        stat = weights.stat()
    except OSError as exc:
        raise ModelError(f"{weights}: missing (the model folder is incomplete)") from exc
    key = (str(weights), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        verify_weights(directory, manifest)
        _verified.add(key)


def _remember_verified(weights: Path) -> None:
    stat = weights.stat()
    _verified.add((str(weights), stat.st_size, stat.st_mtime_ns))


def hf_directory_info(path: Path, source: str) -> ModelInfo:
    """A Hugging Face model folder as found (a fine-tune, a Hub snapshot, a test model)."""
    if manifest := read_manifest(path):
        return manifest_info(path, manifest)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path / 'config.json'}: unreadable model config ({exc})") from exc
    if not isinstance(config, dict):
        raise ModelError(f"{path / 'config.json'}: not a model config")
    if not any(path.glob("*.safetensors")):
        raise ModelError(
            f"{path}: no .safetensors weights (other weight formats are not loaded, for safety)"
        )
    from voxtune.engine.families.table import family_for_config

    family = family_for_config(config)
    if family is not None and (info := family.folder_info(path, config, source)):
        return info
    return ModelInfo(
        name=path.name,
        family=family.name if family else str(config.get("model_type", "unknown")),
        languages=_hf_languages(path, config),
        size_bytes=directory_size(path),
        location=path,
        source=source,
    )


def _hf_languages(path: Path, config: dict) -> tuple[str, ...]:
    try:
        generation = json.loads((path / "generation_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        generation = {}
    lang_to_id = generation.get("lang_to_id") or {}
    if lang_to_id:
        return tuple(token.strip("<|>") for token in lang_to_id)
    if config.get("model_type") == "whisper" and not generation.get("is_multilingual", True):
        return ("en",)
    if (
        config.get("model_type") == "whisper"
        and config.get("vocab_size", 0) < MULTILINGUAL_VOCAB_SIZE
    ):
        return ("en",)
    return ()
