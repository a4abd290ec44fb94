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


# A stretch called silence at least this long is listened to again from a fresh state.
RELISTEN_SECONDS = 1.0


def load_vad_model():  # type: ignore[no-untyped-def]
    """silero-vad's own model (shipped in the package; nothing is downloaded)."""
    # Importing silero_vad sets torch to one thread for the whole process, which would halve
    # the encoder's speed afterwards: keep the thread count the process had.
    threads = torch.get_num_threads()
    from silero_vad import load_silero_vad

    model = load_silero_vad()
    if torch.get_num_threads() != threads:  # already imported (set_torch_threads): no change
        torch.set_num_threads(threads)
    return model


_model = functools.cache(load_vad_model)


def speech_regions(
    audio: np.ndarray, options: VadOptions = VadOptions()
) -> list[tuple[float, float]]:
    """(start, end) seconds of speech, merged across short pauses."""
    if audio.size < SAMPLE_RATE // 10:
        return []
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    stamps = _speech(audio, options)
    # silero's recurrent state carries the loudness of what it heard: after a loud speaker it
    # missed four seconds of one 40 dB quieter. Each stretch it called silence is heard
    # again from a fresh state, and what that finds joins the rest.
    relisten = int(RELISTEN_SECONDS * SAMPLE_RATE)
    found = list(stamps)
    previous_end = 0
    for start, end in [*stamps, (len(audio), len(audio))]:
        if start - previous_end >= relisten:
            stretch = _speech(audio[previous_end:start], options)
            found += [(s + previous_end, e + previous_end) for s, e in stretch]
        previous_end = max(previous_end, end)
    regions: list[tuple[float, float]] = []
    for first, last in sorted(found):
        start, end = first / SAMPLE_RATE, last / SAMPLE_RATE
        if regions and start - regions[-1][1] < options.merge_gap:
            regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
        else:
            regions.append((start, end))
    return regions


def _speech(audio: np.ndarray, options: VadOptions) -> list[tuple[int, int]]:
    """(first, last) samples of speech that silero finds in ``audio``, from a fresh state."""
    from silero_vad import get_speech_timestamps

    model = _model()
    model.reset_states()
    with torch.inference_mode():
        stamps = get_speech_timestamps(
            torch.from_numpy(audio),
            model,
            threshold=options.threshold,
            sampling_rate=SAMPLE_RATE,
            min_speech_duration_ms=options.min_speech_ms,
            min_silence_duration_ms=options.min_silence_ms,
            speech_pad_ms=options.speech_pad_ms,
        )
    return [(int(stamp["start"]), int(stamp["end"])) for stamp in stamps]
