"""Qwen3-ASR by name: Hub entries, and original-layout folders converted once into the cache.

``qwen3-asr-1.7b`` and friends resolve from the local Hugging Face cache, or are fetched (the
download size is printed first). The Hub repositories hold the original ``qwen-asr`` layout;
like any original-layout folder given by path, they are converted to the native layout once,
into ``models_dir()/<name>``, with a manifest that records the weights' checksum.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.layout import (
    FORCED_ALIGNER,
    QWEN3_ASR,
    copy_native,
    is_original_layout,
    original_to_native,
    qwen3_family,
    read_config,
)
from voxtune.engine.home import models_dir
from voxtune.engine.models.info import ModelInfo
from voxtune.engine.models.manifest import (
    MANIFEST,
    WEIGHTS,
    Manifest,
    file_sha256,
    manifest_info,
    read_manifest,
    verify_weights,
)
from voxtune.engine.models.staging import staged_folder

QWEN3_MODELS = {
    "qwen3-asr-0.6b": "Qwen/Qwen3-ASR-0.6B",
    "qwen3-asr-1.7b": "Qwen/Qwen3-ASR-1.7B",
    "qwen3-forced-aligner-0.6b": "Qwen/Qwen3-ForcedAligner-0.6B",
}
# What each download weighs (bfloat16 safetensors, as the Hub repositories list them), so a
# listing can say what fetching costs without reaching the Hub. 0.6B: 0.9 B parameters.
DOWNLOAD_BYTES = {
    "qwen3-asr-0.6b": 1_880_000_000,
    "qwen3-asr-1.7b": 4_700_000_000,
    "qwen3-forced-aligner-0.6b": 1_840_000_000,
}
DEFAULT_ALIGNER = "qwen3-forced-aligner-0.6b"
# ISO codes the ASR models transcribe (names as in transformers' Qwen3-ASR processor).
ASR_LANGUAGES = (
    "ar", "yue", "zh", "cs", "da", "nl", "en", "fil", "fi", "fr", "de", "el", "hi", "hu", "id",
    "it", "ja", "ko", "mk", "ms", "fa", "pl", "pt", "ro", "ru", "es", "sv", "th", "tr", "vi",
)  # fmt: skip
ALIGNER_LANGUAGES = ("zh", "en", "yue", "fr", "de", "it", "ja", "ko", "pt", "ru", "es")


def qwen3_languages(family: str) -> tuple[str, ...]:
    return ALIGNER_LANGUAGES if family == FORCED_ALIGNER else ASR_LANGUAGES


def resolve_qwen3(name: str, *, download: bool = True) -> ModelInfo:
    """A registry entry from the HF cache, else fetched (``download``), else ModelError."""
    repo_id = QWEN3_MODELS[name]
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    from voxtune.engine.models.hub import ALLOW_PATTERNS

    try:
        folder = snapshot_download(repo_id, allow_patterns=ALLOW_PATTERNS, local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError) as exc:
        if not download:
            raise ModelError(f"{name}: not downloaded ({repo_id} is not in the cache)") from exc
        announce_download(name, repo_id)
        from voxtune.engine.models.hub import pull_model

        folder = str(pull_model(repo_id).location)
    return qwen3_folder_info(Path(folder), name, "hub")


def announce_download(name: str, repo_id: str) -> None:
    """Print what a download will cost (disk, and memory in bfloat16) before it starts."""
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(repo_id, files_metadata=True)
        size = sum(f.size or 0 for f in info.siblings or () if f.rfilename.endswith(".safetensors"))
    except Exception:
        return
    print(
        f"voxtune: {name}: downloading {size / 1e9:.1f} GB from {repo_id} "
        f"(needs about {size / 1e9:.1f} GB of memory in bfloat16, twice that in float32)",
        file=sys.stderr,
    )


def qwen3_listing(name: str) -> ModelInfo:
    """A registry entry as ``voxtune models list`` shows it, without converting or fetching:
    ``size_bytes`` is 0 while it is not on this machine."""
    from huggingface_hub import try_to_load_from_cache

    family = FORCED_ALIGNER if name == DEFAULT_ALIGNER else QWEN3_ASR
    converted = models_dir() / name
    if manifest := read_manifest(converted):
        return manifest_info(converted, manifest)
    cached = try_to_load_from_cache(QWEN3_MODELS[name], "config.json")
    if isinstance(cached, str):  # a snapshot in the Hugging Face cache, not converted yet
        from voxtune.engine.models.manifest import directory_size

        folder = Path(cached).parent
        return ModelInfo(
            name, family, qwen3_languages(family), directory_size(folder), folder, "hub"
        )
    return ModelInfo(name, family, qwen3_languages(family), 0, converted, "hub")


def qwen3_folder_info(folder: Path, name: str, source: str) -> ModelInfo:
    """A Qwen3-ASR folder ready to load: native as is, original converted once (cached)."""
    config = read_config(folder)
    family = qwen3_family(config)
    if family is None:
        raise ModelError(f"{folder}: not a Qwen3-ASR model (model_type {config.get('model_type')})")
    if not is_original_layout(config):
        from voxtune.engine.models.manifest import directory_size

        size = directory_size(folder)
        return ModelInfo(name, family, qwen3_languages(family), size, folder, source)
    return _converted(folder, name, family, source)


def _stamp(folder: Path) -> str:
    parts = [
        f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in sorted(folder.glob("*.safetensors"))
    ]
    return ";".join(parts)


def _converted(folder: Path, name: str, family: str, source: str) -> ModelInfo:
    resolved = str(folder.resolve())
    cache_name = name if "/" not in name else name.replace("/", "--")
    existing = read_manifest(models_dir() / cache_name)
    if existing is not None and existing.imported_from != resolved:
        cache_name = f"{cache_name}-{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"
        existing = read_manifest(models_dir() / cache_name)
    target = models_dir() / cache_name
    if existing is not None and existing.source_stamp == _stamp(folder):
        try:
            verify_weights(target, existing)
            return manifest_info(target, existing)
        except ModelError:
            pass  # a damaged conversion is simply converted again
    with staged_folder(target) as staging:
        original_to_native(folder, staging)
        manifest = _register(folder, staging, name, family, source)
    return manifest_info(target, manifest)


def import_qwen3(folder: Path, name: str) -> ModelInfo:
    """``voxtune models import``: ``folder`` (either layout) as ``models_dir()/name``, native.

    Importing the same folder again redoes it; a name another folder holds is refused.
    """
    config = read_config(folder)
    family = qwen3_family(config)
    if family is None:
        raise ModelError(f"{folder}: not a Qwen3-ASR model (model_type {config.get('model_type')})")
    target = models_dir() / name
    existing = read_manifest(target)
    if existing is not None and existing.imported_from != str(folder.resolve()):
        raise ModelError(
            f"{target}: the name '{name}' is taken by a model imported from "
            f"{existing.imported_from or 'elsewhere'} (choose another --name)"
        )
    # Built beside the models folder's entry and renamed into it at the end: corrupt weights
    # or a missing tokenizer leave no empty or partial folder (and an earlier import stays).
    with staged_folder(target) as staging:
        if is_original_layout(config):
            original_to_native(folder, staging)
        else:
            copy_native(folder, staging)
        manifest = _register(folder, staging, name, family, "imported")
    return manifest_info(target, manifest)


def _register(folder: Path, target: Path, name: str, family: str, source: str) -> Manifest:
    """Write the manifest that makes ``target`` (converted from ``folder``) a known model."""
    from voxtune.engine.atomic import write_text

    manifest = Manifest(
        name=name,
        family=family,
        languages=qwen3_languages(family),
        source=source,
        sha256=file_sha256(target / WEIGHTS),
        imported_from=str(folder.resolve()),
        source_stamp=_stamp(folder),
    )
    write_text(target / MANIFEST, manifest.to_json())
    return manifest
