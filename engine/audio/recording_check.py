"""Is a recording good enough to tune on? Clipping, silence and too-short takes, in numbers.

The wizard's recording step asks after every take, so the user re-records at once instead of
finding out from a bad tune. Numpy only; the thresholds are the usual ones for read speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxtune.engine.audio.sources import SILENCE_DBFS, level_dbfs

MIN_SECONDS = 1.0  # a sentence read aloud takes longer than this
MIN_VOICED_SECONDS = 0.4  # sound above the noise floor, at least
SILENT_PEAK_DBFS = -40.0  # a take whose loudest moment is below this heard nothing useful
FULL_SCALE = 0.999  # samples at or beyond this are taken as clipped
MAX_CLIPPED_FRACTION = 0.001
FRAME_SECONDS = 0.02
VOICED_BELOW_PEAK_DB = 30.0  # frames within this of the loudest count as voiced


@dataclass(frozen=True, slots=True)
class RecordingCheck:
    seconds: float
    peak_dbfs: float
    voiced_seconds: float
    clipped_fraction: float
    warnings: tuple[str, ...]


def check_recording(audio: np.ndarray, rate: int) -> RecordingCheck:
    seconds = audio.size / rate
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    peak_dbfs = 20.0 * float(np.log10(peak)) if peak > 0 else SILENCE_DBFS
    clipped = float(np.mean(np.abs(audio) >= FULL_SCALE)) if audio.size else 0.0
    voiced = _voiced_seconds(audio, rate, peak_dbfs)
    warnings = []
    if peak_dbfs < SILENT_PEAK_DBFS:
        warnings.append(
            f"silence: nothing heard (loudest {peak_dbfs:.0f} dBFS); check the microphone"
        )
    elif seconds < MIN_SECONDS or voiced < MIN_VOICED_SECONDS:
        warnings.append(f"too short: {voiced:.1f} s of sound; read the whole sentence")
    if clipped > MAX_CLIPPED_FRACTION:
        warnings.append(
            f"clipping: {100 * clipped:.1f} % of the samples at full scale; "
            "speak further from the microphone or turn its level down"
        )
    return RecordingCheck(seconds, peak_dbfs, voiced, clipped, tuple(warnings))


def _voiced_seconds(audio: np.ndarray, rate: int, peak_dbfs: float) -> float:
    frame = max(1, int(FRAME_SECONDS * rate))
    count = audio.size // frame
    if count == 0 or peak_dbfs < SILENT_PEAK_DBFS:
        return 0.0
    levels = [level_dbfs(audio[i * frame : (i + 1) * frame]) for i in range(count)]
    floor = peak_dbfs - VOICED_BELOW_PEAK_DB
    return sum(level > floor for level in levels) * frame / rate
