"""Voice activity detection with silero-vad (its model ships inside the package).

Silence and noise never reach the decoder: they cost nothing and produce no words.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.5
    min_speech_ms: int = 250
    min_silence_ms: int = 600
    speech_pad_ms: int = 300
    # Speech separated by less silence than this is decoded as one region, so the decoder
    # keeps its context across short pauses.
    merge_gap: float = 2.0


@functools.cache
def _model():  # type: ignore[no-untyped-def]
    # Importing silero_vad sets torch to one thread for the whole process, which would halve
    # the encoder's speed afterwards: keep the thread count the process had.
    threads = torch.get_num_threads()
    from silero_vad import load_silero_vad

    model = load_silero_vad()
    torch.set_num_threads(threads)
    return model


def speech_regions(
    audio: np.ndarray, options: VadOptions = VadOptions()
) -> list[tuple[float, float]]:
    """(start, end) seconds of speech, merged across short pauses."""
    if audio.size < SAMPLE_RATE // 10:
        return []
    from silero_vad import get_speech_timestamps

    model = _model()
    model.reset_states()
    with torch.inference_mode():
        stamps = get_speech_timestamps(
            torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
            model,
            threshold=options.threshold,
            sampling_rate=SAMPLE_RATE,
            min_speech_duration_ms=options.min_speech_ms,
            min_silence_duration_ms=options.min_silence_ms,
            speech_pad_ms=options.speech_pad_ms,
        )
    regions: list[tuple[float, float]] = []
    for stamp in stamps:
        start, end = stamp["start"] / SAMPLE_RATE, stamp["end"] / SAMPLE_RATE
        if regions and start - regions[-1][1] < options.merge_gap:
            regions[-1] = (regions[-1][0], end)
        else:
            regions.append((start, end))
    return regions
