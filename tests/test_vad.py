"""Offline voice activity detection on real speech (silero-vad)."""

from __future__ import annotations

import numpy as np

from voxtune.engine.audio import decode_audio
from voxtune.engine.transcribe.vad import speech_regions

RATE = 16000


def at_level(audio: np.ndarray, decibels_below_full_scale: float) -> np.ndarray:
    return (audio / np.abs(audio).max() * 10 ** (-decibels_below_full_scale / 20)).astype(
        np.float32
    )


def test_a_quiet_speaker_after_a_loud_one_is_heard_from_the_start(english_dev) -> None:
    # silero's recurrent state carries the loud speaker's level into the pause; from that
    # state it missed the first four seconds of a speaker 40 dB quieter (12.4 s -> 16.5 s).
    loud = at_level(decode_audio(english_dev[0].path), 1.0)
    quiet = at_level(decode_audio(english_dev[1].path), 41.0)
    [(alone_start, alone_end)] = speech_regions(quiet)
    pause = np.zeros(RATE, dtype=np.float32)
    joined = np.concatenate([loud, pause, quiet])
    quiet_from = (len(loud) + len(pause)) / RATE
    regions = speech_regions(joined)
    assert regions[0][0] < 1.5 and regions[0][1] < quiet_from  # the loud speaker
    starts = [start for start, end in regions if end > quiet_from + 1.0]
    assert starts, regions
    assert abs(starts[0] - (quiet_from + alone_start)) < 0.3, (regions, alone_start)
    assert regions[-1][1] >= quiet_from + alone_end - 0.3


def test_silence_between_speech_is_not_speech(english_dev) -> None:
    speech = decode_audio(english_dev[0].path)
    silence = np.zeros(RATE * 5, dtype=np.float32)
    regions = speech_regions(np.concatenate([silence, speech, silence, speech]))
    assert len(regions) == 2
    first, second = regions
    assert 4.5 < first[0] < 6.5 and second[0] > first[1] + 3.0
