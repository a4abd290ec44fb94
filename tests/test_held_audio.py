"""The live decoder's held audio: stretches of the stream joined, times mapped back."""

from __future__ import annotations

import numpy as np

from voxtune.engine.stream.held_audio import HeldAudio

RATE = 16000


def ramp(first: int, count: int) -> np.ndarray:
    """Samples whose values are their own absolute index, so any slice says where it is from."""
    return np.arange(first, first + count, dtype=np.float32)


def test_contiguous_audio_is_one_stretch_and_times_map_one_to_one() -> None:
    held = HeldAudio()
    held.append(ramp(0, RATE), 0)
    held.append(ramp(RATE, RATE // 2), RATE)
    assert np.array_equal(held.audio(), ramp(0, RATE + RATE // 2))
    assert held.seconds == 1.5 and held.start == 0.0
    assert held.spoken_at(0.75) == 0.75
    assert held.spoken_at(1.5) == 1.5  # the end of what is held


def test_removing_a_silence_joins_the_stretches_around_it_and_maps_times_across() -> None:
    held = HeldAudio()
    held.append(ramp(0, 4 * RATE), 0)
    held.remove(1.0, 3.0)  # two seconds of pause left out
    audio = held.audio()
    assert len(audio) == 2 * RATE
    assert audio[RATE - 1] == RATE - 1 and audio[RATE] == 3 * RATE  # joined at the cut
    assert held.spoken_at(0.5) == 0.5
    assert held.spoken_at(1.25) == 3.25  # past the join, a second read as spoken 2 s later
    assert held.seconds_before(3.5) == 1.5
    held.append(ramp(6 * RATE, RATE), 6 * RATE)  # after a gap: a third stretch
    assert held.spoken_at(2.5) == 6.5
    assert held.spoken_at(3.0) == 7.0


def test_cutting_forgets_what_came_before_in_every_stretch() -> None:
    held = HeldAudio()
    held.append(ramp(0, 2 * RATE), 0)
    held.append(ramp(5 * RATE, 2 * RATE), 5 * RATE)
    held.cut(1.5)
    assert held.start == 1.5 and held.seconds == 2.5
    held.cut(6.0)  # inside the second stretch: the first is gone altogether
    assert held.start == 6.0
    assert np.array_equal(held.audio(), ramp(6 * RATE, RATE))
    held.cut(60.0)
    assert held.samples == 0 and held.start == 0.0
    held.remove(3.0, 2.0)  # an empty range removes nothing, and an empty hold stays empty
    assert held.samples == 0
