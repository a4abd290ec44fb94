"""Where a CTranslate2 Whisper lives on disk (no heavy imports: listing uses it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import ModelError


@dataclass(frozen=True)
class CT2Source:
    """Where a CTranslate2 Whisper lives: its weights (one file or parts) and its other files."""

    weights: tuple[Path, ...]  # model.bin, or its parts in order
    files: Path  # the folder with config.json, tokenizer.json, vocabulary.*

    @classmethod
    def directory(cls, path: Path) -> CT2Source:
        if not path.exists():
            raise ModelError(f"{path}: no such directory")
        if not path.is_dir():
            raise ModelError(f"{path}: not a directory (a CTranslate2 model is a folder)")
        if not (path / "model.bin").is_file():
            raise ModelError(f"{path}: no model.bin (not a CTranslate2 model directory)")
        return cls(weights=(path / "model.bin",), files=path)

    @property
    def label(self) -> str:
        return " + ".join(str(p) for p in self.weights)

    def stamp(self) -> str:
        """Changes when the source weights change, so a stale import is noticed."""
        stats = [p.stat() for p in self.weights]
        return ";".join(f"{s.st_size}:{s.st_mtime_ns}" for s in stats)
