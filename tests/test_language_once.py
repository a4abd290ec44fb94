"""A multilingual model encodes each window once, the first included: language detection and
decoding share one encoder pass. On the real built-in ``whisper-base``, in French and German.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from voxtune.engine.audio import decode_audio
from voxtune.engine.types import TranscriptionOptions

# Greedy, no fallback: the same windows every run, so texts can be compared exactly.
OPTIONS = TranscriptionOptions(beam_size=1, temperatures=(0.0,), vad=False)


@pytest.fixture(scope="module")
def transcriber():  # type: ignore[no-untyped-def]  # -> Transcriber (imports torch)
    from voxtune.engine.models import load_model
    from voxtune.engine.transcribe import Transcriber

    return Transcriber(load_model("whisper-base"))


class EncoderCalls:
    """Counts forward passes of the model's real encoder (a forward hook)."""

    def __init__(self, transcriber) -> None:  # type: ignore[no-untyped-def]
        self.count = 0
        encoder = transcriber.decoder.model.model.encoder
        self.handle = encoder.register_forward_hook(self._seen)

    def _seen(self, *_: object) -> None:
        self.count += 1


@pytest.fixture
def encoder_calls(transcriber) -> Iterator[EncoderCalls]:  # type: ignore[no-untyped-def]
    calls = EncoderCalls(transcriber)
    yield calls
    calls.handle.remove()


def two_windows_of(dev_set: list, language: str) -> np.ndarray:
    """The language's utterances joined: longer than one 30 s window."""
    audio = np.concatenate([decode_audio(u.path) for u in dev_set if u.language == language])
    assert len(audio) > 30 * 16000
    return audio


def run(transcriber, audio: np.ndarray, options: TranscriptionOptions):  # type: ignore[no-untyped-def]
    """(texts, windows decoded, checkpoint before the first) as the job runner drives it."""
    checkpoint = transcriber.begin(audio, options)
    steps = list(transcriber.windows(audio, options, checkpoint))
    return [s.text for segments, _ in steps for s in segments], len(steps), checkpoint


@pytest.mark.parametrize("language", ["fr"])
def test_language_detection_reuses_the_first_windows_encoding(
    transcriber,  # type: ignore[no-untyped-def]
    encoder_calls: EncoderCalls,
    dev_set: list,
    language: str,
) -> None:
    audio = two_windows_of(dev_set, language)

    texts, windows, checkpoint = run(transcriber, audio, OPTIONS)  # language not given
    assert checkpoint.language == language
    assert transcriber._language_probability > 0.5
    assert windows >= 2 and texts
    assert encoder_calls.count == windows  # one pass a window; detection needed none its own

    # What the two passes gave before: detect on the first window, then decode with the
    # language given.
    encoder_calls.count = 0
    states = transcriber.decoder.encode([audio[: 30 * 16000]])
    [(found, _)] = transcriber.decoder.detect_language(states)
    given, given_windows, _ = run(transcriber, audio, replace(OPTIONS, language=found))
    assert found == language
    assert given == texts
    assert encoder_calls.count == 1 + given_windows == 1 + windows

    # transcribe() (begin, then windows) is the same loop: its info says the language.
    encoder_calls.count = 0
    segments, info = transcriber.transcribe(audio, OPTIONS)
    assert [s.text for s in segments] == texts and info.language == language
    assert encoder_calls.count == windows


def test_a_resumed_run_encodes_its_first_window_itself(
    transcriber,  # type: ignore[no-untyped-def]
    encoder_calls: EncoderCalls,
    dev_set: list,
) -> None:
    """``windows`` without the ``begin`` that detected: nothing kept is reused by mistake."""
    audio = two_windows_of(dev_set, "de")
    texts, windows, checkpoint = run(transcriber, audio, OPTIONS)
    transcriber.begin(audio[16000:], OPTIONS)  # another file's detection in between
    encoder_calls.count = 0
    steps = list(transcriber.windows(audio, OPTIONS, checkpoint))  # resumed from the start
    assert encoder_calls.count == len(steps) == windows
    assert [s.text for segments, _ in steps for s in segments] == texts
