"""The user's choices, persisted with QSettings in an INI file under Voxtune's home.

One object owns every key, so defaults and types live in one place, not in each widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from PySide6.QtCore import QSettings

from voxtune.app.paths import settings_file
from voxtune.engine.jobs.job import DEFAULT_MODEL, OUTPUT_FORMATS
from voxtune.engine.subtitles import SubtitleRules
from voxtune.engine.types import TranscriptionOptions

DEVICES: tuple[str, ...] = ("cpu", "cuda")


@dataclass(frozen=True, slots=True)
class UiSettings:
    model: str = DEFAULT_MODEL
    language: str = ""  # "" lets the model detect it
    beam_size: int = 5
    device: str = "cpu"
    output_dir: str = field(default_factory=lambda: str(Path.home() / "Voxtune"))
    formats: tuple[str, ...] = ("srt",)
    max_line_chars: int = 42
    max_lines: int = 2
    input_device: str = ""  # "" is the system default microphone

    def transcription_options(self) -> TranscriptionOptions:
        return TranscriptionOptions(language=self.language or None, beam_size=self.beam_size)

    def subtitle_rules(self) -> SubtitleRules:
        return SubtitleRules(max_line_chars=self.max_line_chars, max_lines=self.max_lines)


def open_qsettings(path: Path | None = None) -> QSettings:
    return QSettings(str(path or settings_file()), QSettings.Format.IniFormat)


def load_settings(store: QSettings) -> UiSettings:
    defaults = UiSettings()
    values: dict[str, object] = {}
    for f in fields(UiSettings):
        default = getattr(defaults, f.name)
        raw = store.value(f.name, None)
        if raw is None:
            continue
        values[f.name] = _coerce(raw, default)
    loaded = UiSettings(**values)  # type: ignore[arg-type]
    formats = tuple(x for x in OUTPUT_FORMATS if x in loaded.formats) or defaults.formats
    device = loaded.device if loaded.device in DEVICES else defaults.device
    return UiSettings(**{**_as_dict(loaded), "formats": formats, "device": device})


def save_settings(store: QSettings, settings: UiSettings) -> None:
    for name, value in _as_dict(settings).items():
        store.setValue(name, ",".join(value) if isinstance(value, tuple) else value)
    store.sync()


def _as_dict(settings: UiSettings) -> dict[str, object]:
    return {f.name: getattr(settings, f.name) for f in fields(UiSettings)}


def _coerce(raw: object, default: object) -> object:
    # INI files give back strings (and lists for comma-separated values).
    if isinstance(default, tuple):
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(i).strip() for i in items if str(i).strip())
    if isinstance(default, int):
        try:
            return int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
    return str(raw)
