"""What every export folder (ONNX, GGUF) shares: a metadata file naming its files, JSON
configs beside the graphs, and the ModelInfo that lets an export be used as a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voxtune.engine.errors import ModelError


def read_export_metadata(folder: Path, file_name: str, kind: str) -> dict[str, Any]:
    """``folder/file_name`` read; ModelError naming the first missing file of a partial
    ``kind`` ("ONNX", "GGUF") export."""
    path = folder / file_name
    if not path.is_file():
        raise ModelError(f"{folder}: not a{'n' if kind[0] in 'AEIOU' else ''} {kind} export "
                         f"(missing {file_name})")  # fmt: skip
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable export metadata ({exc})") from exc
    if not isinstance(metadata, dict):
        raise ModelError(f"{path}: not {kind} export metadata")
    for name in metadata.get("files", []):
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: incomplete {kind} export (missing {name})")
    return metadata


def read_export_json(path: Path, kind: str) -> dict[str, Any]:
    """A config file an export's runner needs (config.json, generation_config.json)."""
    if not path.is_file():
        raise ModelError(f"{path.parent}: incomplete {kind} export (missing {path.name})")
    return json.loads(path.read_text(encoding="utf-8"))


def export_model_info(folder: Path, name: str, metadata: dict[str, Any], source: str):  # type: ignore[no-untyped-def]
    """The export as a model: its family and languages from its metadata; ``source`` says
    which backend runs it."""
    from voxtune.engine.models.info import ModelInfo
    from voxtune.engine.models.manifest import directory_size

    return ModelInfo(
        name=name,
        family=str(metadata["family"]),
        languages=tuple(metadata.get("languages", ())),
        size_bytes=directory_size(folder),
        location=folder,
        source=source,
    )
