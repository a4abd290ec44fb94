"""Writing a transcript's outputs, each file atomically."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from voxtune.engine.atomic import write_text
from voxtune.engine.errors import OutputError, VoxtuneError
from voxtune.engine.subtitles.json_format import to_json
from voxtune.engine.subtitles.rules import DEFAULT_RULES, SubtitleRules
from voxtune.engine.subtitles.text_formats import to_srt, to_txt, to_vtt
from voxtune.engine.types import Transcript

_RENDERERS: dict[str, Callable[[Transcript, SubtitleRules], str]] = {
    "srt": to_srt,
    "vtt": to_vtt,
    "txt": lambda transcript, _rules: to_txt(transcript),
    "json": lambda transcript, _rules: to_json(transcript),
}
FORMATS: tuple[str, ...] = tuple(_RENDERERS)


def write_outputs(
    transcript: Transcript,
    output_dir: Path,
    stem: str,
    formats: Sequence[str],
    rules: SubtitleRules = DEFAULT_RULES,
) -> list[Path]:
    """Write ``<output_dir>/<stem>.<format>`` for each format; return the paths written.

    Every file is rendered before the first is written, and each is written atomically,
    so an existing output is replaced whole or not at all.
    """
    chosen = checked_formats(formats)
    if not stem or stem in (".", "..") or Path(stem).name != stem or "\\" in stem:
        raise VoxtuneError(f"output name {stem!r} must be a plain file name, not a path")
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputError(f"{output_dir}: cannot write outputs there (it is a file, not a folder)")
    texts = {fmt: _RENDERERS[fmt](transcript, rules) for fmt in chosen}
    return [write_text(output_dir / f"{stem}.{fmt}", text) for fmt, text in texts.items()]


def checked_formats(formats: Sequence[str]) -> list[str]:
    """The formats asked for, lower-cased and without repeats; VoxtuneError on an unknown one."""
    if isinstance(formats, str):  # "srt" would otherwise read as "s", "r", "t"
        formats = [formats]
    chosen = list(dict.fromkeys(f.strip().lower().lstrip(".") for f in formats))
    unknown = [f for f in chosen if f not in _RENDERERS]
    if unknown:
        raise VoxtuneError(
            f"unknown output format {unknown[0]!r} (valid formats: {', '.join(FORMATS)})"
        )
    return chosen
