"""Checks on what a command was given, made before any model loads (a model takes seconds).

Each failure is one ``VoxtuneError`` line naming the file or folder and the problem.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.errors import VoxtuneError

if TYPE_CHECKING:
    from voxtune.engine.evaluation.manifest import ManifestRow


def existing_files(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """(the files that exist, each once; one error line per path that is not a file).

    Known before the model loads, so a run of only typos loads nothing.
    """
    found: dict[Path, Path] = {}
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            problems.append(f"{path}: is a folder (give its files, or use voxtune batch)")
        elif not path.is_file():
            problems.append(f"{path}: file not found")
        else:  # the same file named twice (x.wav ./x.wav) is transcribed once
            found.setdefault(path.resolve(), path)
    return list(found.values()), problems


def distinct_output_names(paths: Sequence[Path]) -> None:
    """Refuse two inputs whose outputs would overwrite each other in one output folder."""
    by_stem: dict[str, Path] = {}
    for path in paths:
        if path.stem in by_stem:  # both would write <stem>.srt into the one output folder
            raise VoxtuneError(
                f"{path}: same name as {by_stem[path.stem]}; their outputs would overwrite "
                "each other (transcribe them into different --output-dir folders)"
            )
        by_stem[path.stem] = path


def writable_folder(folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be made in it, before any decoding."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".voxtune-check-"):
            pass
    except FileExistsError:
        raise VoxtuneError(f"{folder}: not a folder (--output-dir)") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise VoxtuneError(f"{folder}: cannot write outputs there ({reason})") from None
    if not os.access(folder, os.W_OK):  # e.g. a read-only mount that still let mkdir pass
        raise VoxtuneError(f"{folder}: cannot write outputs there (read-only)")


def output_formats(formats: Sequence[str]) -> list[str]:
    """At least one format: ``-f ,`` would otherwise transcribe and write nothing."""
    if not formats:
        raise VoxtuneError("--format: no output format given (choose from srt, vtt, txt, json)")
    return list(formats)


def model_language(args: argparse.Namespace) -> str | None:
    """``--language`` as the code the chosen model knows; VoxtuneError (one line) otherwise.

    The model is resolved, not loaded: its languages are known without its weights.
    """
    from voxtune.engine.languages import checked_language

    if args.language is None:
        return None
    from voxtune.engine.models import resolve_model

    name, base = _model_and_base(args)
    return checked_language(args.language, name, resolve_model(base).languages if base else ())


def _model_and_base(args: argparse.Namespace) -> tuple[str, str | None]:
    """How errors name the model, and the model whose languages count: with ``--adapter``,
    the base it loads on (``--model``, else the base the adapter records; None when the
    folder records none readably: the loader says what is wrong with it)."""
    from voxtune.engine.models.info import DEFAULT_MODEL

    adapter = getattr(args, "adapter", None)
    if adapter is None:
        name = args.model or DEFAULT_MODEL
        return name, name
    from voxtune.engine.tune.adapter_record import recorded_base

    try:
        base = args.model or recorded_base(Path(adapter))
    except (OSError, ValueError, KeyError):
        return str(adapter), None
    return f"{adapter} (an adapter of {base})", base


def manifest_languages(rows: Sequence[ManifestRow], args: argparse.Namespace) -> list[ManifestRow]:
    """Rows whose audio exists and whose language the model knows, checked before it loads."""
    from dataclasses import replace

    from voxtune.engine.languages import checked_language

    missing = [row.audio for row in rows if not row.audio.is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise VoxtuneError(f"{args.manifest}: {missing[0]}: file not found{more}")
    if not any(row.language for row in rows):
        return list(rows)
    from voxtune.engine.models import resolve_model

    name, base = _model_and_base(args)
    languages = resolve_model(base).languages if base else ()
    checked: list[ManifestRow] = []
    for row in rows:
        if row.language is None:
            checked.append(row)
            continue
        # An English-only model is evaluated on every row: it is not told a language.
        known = languages if len(languages) > 1 else ()
        try:
            language = checked_language(row.language, name, known)
        except VoxtuneError as exc:
            raise VoxtuneError(f"{args.manifest}: {row.audio.name}: {exc}") from None
        checked.append(replace(row, language=language))
    return checked


def naming(path: Path | str, error: Exception) -> str:
    """The error's line, starting with the file it is about (say, an output name refused)."""
    message = str(error)
    return message if message.startswith(f"{path}") else f"{path}: {message}"
