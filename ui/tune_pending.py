"""The record of a tune that has not ended, so the next start can offer Resume.

Written when the wizard starts a tune, removed when the engine says it ended (finished,
stopped and saved, or failed). If the app is closed or the engine dies in between, the
record stays: the tune's ``TuneConfig`` with ``resume=True`` continues from its newest
checkpoint (the engine's ``--resume``). JSON in Voxtune's home, next to the settings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields, replace
from pathlib import Path

from voxtune.engine.home import home
from voxtune.engine.tune.config import TuneConfig

RECORD = "tune-pending.json"
_PATHS = ("data", "out", "validation", "general")


def record_path() -> Path:
    return home() / RECORD


def remember(config: TuneConfig, path: Path | None = None) -> None:
    plain = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    target = path or record_path()
    staging = target.with_suffix(".partial")
    staging.write_text(json.dumps(plain, indent=2), encoding="utf-8")
    staging.replace(target)


def pending(path: Path | None = None) -> TuneConfig | None:
    """The interrupted tune, ready to resume; None when there is none (or it is unreadable)."""
    source = path or record_path()
    try:
        plain = json.loads(source.read_text(encoding="utf-8"))
        known = {f.name for f in fields(TuneConfig)}
        values = {k: v for k, v in plain.items() if k in known}
        for name in _PATHS:
            if values.get(name) is not None:
                values[name] = Path(values[name])
        return replace(TuneConfig(**values), resume=True)
    except (OSError, ValueError, TypeError):
        return None


def forget(path: Path | None = None) -> None:
    (path or record_path()).unlink(missing_ok=True)


def checkpoint_steps(config: TuneConfig) -> int | None:
    """The newest checkpoint's step in the tune's folder (what Resume continues from)."""
    steps = [
        int(folder.name.split("-")[1])
        for folder in (config.out / "checkpoints").glob("step-*")
        if folder.name.split("-")[1].isdigit()
    ]
    return max(steps) if steps else None
