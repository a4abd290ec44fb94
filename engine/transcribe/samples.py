"""Seconds to sample indices: one rounding for every slice of 16 kHz audio."""

from __future__ import annotations

SAMPLE_RATE = 16000


def sample_index(seconds: float) -> int:
    """The sample at ``seconds``: one rounding for every slice, so resumed slices match —
    the same as ``decode_audio(start=…)`` (``int`` would put 1001/16000 s at sample 1000)."""
    return round(seconds * SAMPLE_RATE)
