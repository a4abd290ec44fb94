"""``voxtune models list | import PATH | pull ID``: the models Voxtune can use."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxtune.engine.models import ModelInfo


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models", help="list, import and fetch models", description=__doc__
    )
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="models available here")
    listing.set_defaults(func=run_list)

    importing = actions.add_parser(
        "import", help="import a CTranslate2 Whisper or a Qwen3-ASR folder (either layout)"
    )
    importing.add_argument("path", type=Path, metavar="PATH")
    importing.add_argument("--name", default=None, help="name to use (default: folder name)")
    importing.set_defaults(func=run_import)

    pulling = actions.add_parser("pull", help="fetch a model from the Hugging Face Hub")
    pulling.add_argument("repo_id", metavar="ID", help="Hub id, e.g. openai/whisper-small")
    pulling.set_defaults(func=run_pull)


def describe_languages(languages: tuple[str, ...]) -> str:
    if not languages:
        return "?"
    return languages[0] if len(languages) == 1 else f"{len(languages)} languages"


def _location(info: ModelInfo) -> str:
    from voxtune.engine.families.qwen3_asr.registry import DOWNLOAD_BYTES, QWEN3_MODELS

    if info.source == "embedded" and info.size_bytes == 0:
        return "embedded (not imported yet)"
    if info.name in QWEN3_MODELS and info.size_bytes == 0:
        size = DOWNLOAD_BYTES[info.name] / 1e9
        return f"not downloaded ({size:.1f} GB from {QWEN3_MODELS[info.name]})"
    return str(info.location)


def format_table(infos: list[ModelInfo]) -> str:
    header = ("NAME", "FAMILY", "LANGUAGES", "SIZE MB", "LOCATION")
    rows = [header] + [
        (
            info.name,
            info.family,
            describe_languages(info.languages),
            f"{info.size_bytes / 1e6:.0f}" if info.size_bytes else "-",
            _location(info),
        )
        for info in infos
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def run_list(args: argparse.Namespace) -> int:
    from voxtune.engine.models import list_models

    print(format_table(list_models()))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from voxtune.engine.models.registry import import_folder

    info = import_folder(args.path, name=args.name)
    print(f"imported {info.name} ({describe_languages(info.languages)}) into {info.location}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from voxtune.engine.models.registry import fetch_model

    info = fetch_model(args.repo_id)
    print(f"fetched {info.name} ({info.family}) into {info.location}")
    return 0
