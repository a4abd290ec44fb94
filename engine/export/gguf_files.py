"""What every GGUF export folder holds (``voxtune export gguf``), and the checks every export
and every load share: the GGUF files llama.cpp runs, the processor Voxtune prompts with, and
``voxtune-gguf.json`` saying what they are."""

from __future__ import annotations

import json
from pathlib import Path

from voxtune.engine.errors import ModelError

METADATA_FILE = "voxtune-gguf.json"  # family, base, number format, files, Voxtune's version
GGUF_SOURCE = "gguf"  # ModelInfo.source of an export folder: only the llamacpp backend runs it


def is_gguf_export(folder: Path) -> bool:
    return (folder / METADATA_FILE).is_file()


def read_metadata(folder: Path) -> dict:
    """The export's metadata; ModelError naming the first missing file of a partial export."""
    path = folder / METADATA_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: not a GGUF export (missing {METADATA_FILE})")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable export metadata ({exc})") from exc
    if not isinstance(metadata, dict) or metadata.get("format") != "gguf":
        raise ModelError(f"{path}: not GGUF export metadata")
    for name in metadata.get("files", []):
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: incomplete GGUF export (missing {name})")
    return metadata


def write_metadata(folder: Path, metadata: dict) -> None:
    from voxtune.engine.atomic import write_text

    write_text(folder / METADATA_FILE, json.dumps(metadata, indent=2) + "\n")


def gguf_export_info(folder: Path, name: str):  # type: ignore[no-untyped-def]
    """The export as a model: its family and languages from its metadata."""
    from voxtune.engine.models.info import ModelInfo
    from voxtune.engine.models.manifest import directory_size

    metadata = read_metadata(folder)
    return ModelInfo(
        name=name,
        family=str(metadata["family"]),
        languages=tuple(metadata.get("languages", ())),
        size_bytes=directory_size(folder),
        location=folder,
        source=GGUF_SOURCE,
    )
