"""What every GGUF export folder holds (``voxtune export gguf``), and the checks every export
and every load share: the GGUF files llama.cpp runs, the processor Voxtune prompts with, and
``voxtune-gguf.json`` saying what they are."""

from __future__ import annotations

import json
from pathlib import Path

from voxtune.engine.errors import ModelError
from voxtune.engine.export.folder import export_model_info, read_export_metadata

METADATA_FILE = "voxtune-gguf.json"  # family, base, number format, files, Voxtune's version
GGUF_SOURCE = "gguf"  # ModelInfo.source of an export folder: only the llamacpp backend runs it


def is_gguf_export(folder: Path) -> bool:
    return (folder / METADATA_FILE).is_file()


def read_metadata(folder: Path) -> dict:
    """The export's metadata; ModelError naming the first missing file of a partial export."""
    metadata = read_export_metadata(folder, METADATA_FILE, "GGUF")
    if metadata.get("format") != "gguf":
        raise ModelError(f"{folder / METADATA_FILE}: not GGUF export metadata")
    return metadata


def write_metadata(folder: Path, metadata: dict) -> None:
    from voxtune.engine.atomic import write_text

    write_text(folder / METADATA_FILE, json.dumps(metadata, indent=2) + "\n")


def gguf_export_info(folder: Path, name: str):  # type: ignore[no-untyped-def]
    """The export as a model: its family and languages from its metadata."""
    return export_model_info(folder, name, read_metadata(folder), GGUF_SOURCE)
