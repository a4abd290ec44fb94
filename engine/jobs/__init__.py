"""The persistent batch queue: the job model and its SQLite store (torch-free).

The runner that executes jobs lives in ``voxtune.engine.jobs.runner`` and is imported only
by the engine process.
"""

from voxtune.engine.jobs.job import DEFAULT_MODEL, OUTPUT_FORMATS, Job, JobSpec, JobState
from voxtune.engine.jobs.store import JobStore, JobStoreError

__all__ = [
    "DEFAULT_MODEL",
    "OUTPUT_FORMATS",
    "Job",
    "JobSpec",
    "JobState",
    "JobStore",
    "JobStoreError",
]
