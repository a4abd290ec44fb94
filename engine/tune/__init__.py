"""Fine-tuning: LoRA (peft) or full, on the user's own recordings, with progress as events.

``run_tune(TuneConfig(...))`` yields the events of ``voxtune.engine.tune.events`` until the
tune is done. Importing this package is light: the UI and the protocol may import the
torch-free ``events`` and ``config`` modules; the trainer loads torch when first asked for.
"""

from __future__ import annotations

from voxtune.engine.tune.config import TuneConfig

_HEAVY = {
    "run_tune": "voxtune.engine.tune.trainer",
    "load_with_adapter": "voxtune.engine.tune.outputs",
}


def __getattr__(name: str) -> object:
    if name in _HEAVY:
        import importlib

        return getattr(importlib.import_module(_HEAVY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TuneConfig", "load_with_adapter", "run_tune"]
