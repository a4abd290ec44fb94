"""The persistent batch queue: the job model and its SQLite store (torch-free).

The runner that executes jobs lives in ``voxtune.engine.jobs.runner`` and is imported only
by the engine process. The store loads on first use: the protocol carries ``Job`` and
``JobSpec`` (``voxtune.engine.jobs.job``), and importing it must not open SQLite's modules.
"""

from __future__ import annotations

import importlib

from voxtune.engine.jobs.job import DEFAULT_MODEL, OUTPUT_FORMATS, Job, JobSpec, JobState

_LAZY = {"JobStore": "voxtune.engine.jobs.store", "JobStoreError": "voxtune.engine.jobs.store"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL",
    "OUTPUT_FORMATS",
    "Job",
    "JobSpec",
    "JobState",
    "JobStore",
    "JobStoreError",
]
