"""``voxtune-model.json``: the small record beside each imported model.

Listing models reads only these; loading checks the recorded sha256 of
``model.safetensors``, so a truncated or altered cache is caught before transformers sees it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import ModelError
from voxtune.engine.models.info import ModelInfo

MANIFEST = "voxtune-model.json"
WEIGHTS = "model.safetensors"
FORMAT_VERSION = 1
# A registered LoRA adapter: the folder holds the adapter (and the processor), not a model;
# ``base`` names the model it applies to, and transformers loads the two together (PEFT).
ADAPTER_SOURCE = "tuned-adapter"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


@dataclass(frozen=True)
class Manifest:
    name: str
    family: str
    languages: tuple[str, ...]
    source: str
    sha256: str
    imported_from: str  # the CTranslate2 directory, or "" when unknown
    source_stamp: str  # size and mtime of the source weights, to notice a changed source
    base: str = ""  # the base model's name or path (registered adapters only)

    def to_json(self) -> str:
        data = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "family": self.family,
            "languages": list(self.languages),
            "source": self.source,
            "sha256": self.sha256,
            "imported_from": self.imported_from,
            "source_stamp": self.source_stamp,
        }
        if self.base:
            data["base"] = self.base
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def directory_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest, or None when there is none or it is unreadable (an unfinished import)."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return Manifest(
            name=str(data["name"]),
            family=str(data["family"]),
            languages=tuple(str(code) for code in data["languages"]),
            source=str(data["source"]),
            sha256=str(data["sha256"]),
            imported_from=str(data.get("imported_from", "")),
            source_stamp=str(data.get("source_stamp", "")),
            base=str(data.get("base", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def manifest_info(directory: Path, manifest: Manifest) -> ModelInfo:
    return ModelInfo(
        name=manifest.name,
        family=manifest.family,
        languages=manifest.languages,
        size_bytes=directory_size(directory),
        location=directory,
        source=manifest.source,
    )


def verify_weights(directory: Path, manifest: Manifest) -> None:
    """ModelError naming the file when the weights are not the ones that were imported."""
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise ModelError(f"{weights}: missing (the model folder is incomplete)")
    if file_sha256(weights) != manifest.sha256:
        raise ModelError(f"{weights}: corrupt (checksum differs from the import); re-import it")


def verify_adapter(directory: Path, manifest: Manifest, base_location: Path) -> None:
    """ModelError naming the file when a registered adapter's weights changed; points the
    adapter at where its base lives now (``from_pretrained`` reads the base from there)."""
    weights = directory / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise ModelError(f"{weights}: missing (the adapter folder is incomplete)")
    if file_sha256(weights) != manifest.sha256:
        raise ModelError(f"{weights}: corrupt (checksum differs from the registration)")
    config_path = directory / ADAPTER_CONFIG
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{config_path}: unreadable adapter config ({exc})") from None
    if config.get("base_model_name_or_path") != str(base_location):
        from voxtune.engine.atomic import write_text

        config["base_model_name_or_path"] = str(base_location)
        write_text(config_path, json.dumps(config, indent=2) + "\n")
