"""Length buckets: short files of similar length decoded together.

A batch costs about as much as its longest member (the decoder runs until the last clip has
finished its text), so sorting by length before cutting batches wastes the least.
"""

from __future__ import annotations

from collections.abc import Sequence

from voxtune.engine.jobs.job import Job

SHORT_SECONDS = 30.0  # one Whisper window: a file this short is decoded in one go


def length_buckets(jobs: Sequence[Job], size: int) -> list[list[Job]]:
    """``jobs`` (durations known) sorted by duration and cut into batches of ``size``."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    ordered = sorted(jobs, key=lambda j: (j.duration or 0.0, j.id))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]
