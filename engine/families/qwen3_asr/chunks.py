"""Where Qwen3-ASR chunks start and end: speech regions cut into overlapping pieces.

A region no longer than ``max_seconds`` is one chunk. A longer one is cut into chunks of
``max_seconds`` whose neighbours share ``overlap`` seconds: the model has no right context at
a chunk's end (a word cut in two comes out wrong or not at all), so every word near a cut is
heard whole by one of the two chunks, and both transcribe a run of the same words that the
merge (``overlap``) lines up. The schedule depends only on the regions and the two
lengths, so a job resumed from a checkpoint recomputes exactly the chunks it had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIN_CHUNK_SECONDS = 0.1  # less speech than this is not worth decoding
# Long enough to hold a few words on both sides of a cut (speech runs at about 3 words a
# second), short enough that a 30 s chunk spends under a tenth of its time on repeats.
OVERLAP_SECONDS = 2.0


@dataclass(frozen=True)
class ChunkSpan:
    start: float  # seconds, in the times of the regions
    end: float
    region: int  # index of the speech region the chunk is part of
    shared_before: float  # seconds at its start that the chunk before also decodes (or 0)
    shared_after: float  # seconds at its end that the chunk after also decodes (or 0)

    @property
    def duration(self) -> float:
        return self.end - self.start


def check_lengths(max_seconds: float, overlap: float) -> None:
    if max_seconds < 1.0:
        raise ValueError(f"chunks must be at least 1 s long, not {max_seconds}")
    if not 0.0 <= overlap <= max_seconds / 2:
        raise ValueError(f"overlap must be between 0 and half a chunk ({max_seconds / 2} s)")


def chunk_spans(
    regions: Sequence[tuple[float, float]], max_seconds: float, overlap: float
) -> list[ChunkSpan]:
    """Every chunk of every region, in time order."""
    check_lengths(max_seconds, overlap)
    spans: list[ChunkSpan] = []
    for index, (region_start, region_end) in enumerate(regions):
        if region_end - region_start < MIN_CHUNK_SECONDS:
            continue
        start, shared_before = region_start, 0.0
        while True:
            end = min(region_end, start + max_seconds)
            last = end >= region_end
            spans.append(ChunkSpan(start, end, index, shared_before, 0.0 if last else overlap))
            if last:
                break
            start, shared_before = end - overlap, overlap
    return spans


def first_span_at(spans: Sequence[ChunkSpan], region: int, seek: float) -> int:
    """Index of the chunk a checkpoint (``region``, ``seek``) points at; len(spans) at the end."""
    # Checkpoints store chunk starts exactly (JSON floats round-trip); the margin only guards
    # against a checkpoint written by other arithmetic.
    return next(
        (i for i, s in enumerate(spans) if s.region >= region and s.start >= seek - 1e-6),
        len(spans),
    )
