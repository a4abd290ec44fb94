"""The user's choices, persisted with QSettings in an INI file under Voxtune's home.

One object owns every key, so defaults and types live in one place, not in each widget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from PySide6.QtCore import QSettings

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.home import settings_file
from voxtune.engine.jobs.job import DEFAULT_MODEL, OUTPUT_FORMATS
from voxtune.engine.subtitles import DEFAULT_RULES, SubtitleRules
from voxtune.engine.types import TranscriptionOptions

DEVICES: tuple[str, ...] = ("cpu", "cuda")
BACKENDS: tuple[str, ...] = ("torch", "onnx")  # engine/backends; the UI may not import it
THEMES: tuple[str, ...] = ("system", "light", "dark")
# The UiSettings fields that make the SubtitleRules: reset together when they do not fit.
_RULE_FIELDS = ("max_line_chars", "max_lines", "min_duration", "max_duration")


@dataclass(frozen=True, slots=True)
class UiSettings:
    model: str = DEFAULT_MODEL
    language: str = ""  # "" lets the model detect it
    beam_size: int = 5
    device: str = "cpu"
    backend: str = "torch"  # what the engine runs models with (EngineConfig.backend)
    output_dir: str = field(default_factory=lambda: str(Path.home() / "Voxtune"))
    formats: tuple[str, ...] = ("srt",)
    max_line_chars: int = DEFAULT_RULES.max_line_chars
    max_lines: int = DEFAULT_RULES.max_lines
    min_duration: float = DEFAULT_RULES.min_duration  # seconds a cue stays on screen, at least
    max_duration: float = DEFAULT_RULES.max_duration
    input_device: str = ""  # "" is the system default microphone
    theme: str = "system"  # "system" | "light" | "dark"
    hotkey: str = ""  # the global dictation hotkey in pynput's words ("<ctrl>+<alt>+d"); "": off
    cluster: str = ""  # a Ray cluster the Files tab's jobs run on (ray://HOST:PORT); "": here

    def transcription_options(self) -> TranscriptionOptions:
        return TranscriptionOptions(language=self.language or None, beam_size=self.beam_size)

    def subtitle_rules(self) -> SubtitleRules:
        return SubtitleRules(
            max_line_chars=self.max_line_chars,
            max_lines=self.max_lines,
            min_duration=self.min_duration,
            max_duration=self.max_duration,
        )


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
    theme = loaded.theme if loaded.theme in THEMES else defaults.theme
    backend = loaded.backend if loaded.backend in BACKENDS else defaults.backend
    fixed: dict[str, object] = {
        "formats": formats,
        "device": device,
        "theme": theme,
        "backend": backend,
    }
    try:
        loaded.subtitle_rules()
    except VoxtuneError:  # a hand-edited file; every job would be refused with these
        fixed |= {name: getattr(defaults, name) for name in _RULE_FIELDS}
    return UiSettings(**{**_as_dict(loaded), **fixed})


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
    if isinstance(default, float):
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
        return value if math.isfinite(value) else default
    if isinstance(default, int):
        try:
            return int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
    return str(raw)
