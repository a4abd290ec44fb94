"""Live transcription: the commit policy, the VAD gate, and the streaming transcriber on real
speech, silence and noise with the real default model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from voxtune.engine.audio import decode_audio
from voxtune.engine.audio.sources import FileSource
from voxtune.engine.evaluation import word_error_rate
from voxtune.engine.stream import (
    LocalAgreement,
    SpeechDetector,
    StreamingOptions,
    StreamingTranscriber,
    StreamUpdate,
)
from voxtune.engine.types import Word

RATE = 16000


def words(text: str, start: float = 0.0) -> list[Word]:
    """Words as a decoder gives them: leading spaces, half-second slots from ``start``."""
    return [
        Word(f" {t}", start + 0.5 * i, start + 0.5 * i + 0.4, 0.9)
        for i, t in enumerate(text.split())
    ]


def texts(ws: tuple[Word, ...] | list[Word]) -> str:
    return "".join(w.text for w in ws).strip()


# --- LocalAgreement ---------------------------------------------------------------------------


def test_local_agreement_commits_what_two_hypotheses_in_a_row_agree_on() -> None:
    policy = LocalAgreement()
    assert policy.update(words("the cat")) == ()
    assert texts(policy.tentative) == "the cat"
    newly = policy.update(words("the cat sat on"))
    assert texts(newly) == "the cat"
    assert texts(policy.tentative) == "sat on"
    # The next hypothesis continues after what is committed.
    assert texts(policy.update(words("sat in the", 1.0))) == "sat"
    assert texts(policy.tentative) == "in the"
    assert texts(policy.update(words("on the mat", 1.5))) == ""
    assert texts(policy.committed) == "the cat sat"


def test_agreement_ignores_case_and_punctuation_and_keeps_the_newest_words() -> None:
    policy = LocalAgreement()
    policy.update([Word(" Hello", 0.0, 0.4, 0.5), Word(" world", 0.5, 0.9, 0.5)])
    newly = policy.update([Word(" hello,", 0.1, 0.5, 0.8), Word(" World.", 0.6, 1.0, 0.9)])
    assert newly == (Word(" hello,", 0.1, 0.5, 0.8), Word(" World.", 0.6, 1.0, 0.9))


def test_local_agreement_3_needs_three_hypotheses() -> None:
    policy = LocalAgreement(n=3)
    assert policy.update(words("a b c")) == ()
    assert policy.update(words("a b d")) == ()
    assert texts(policy.update(words("a b d e"))) == "a b"
    assert texts(policy.tentative) == "d e"
    with pytest.raises(ValueError, match="at least 2"):
        LocalAgreement(n=1)


def test_words_too_close_to_the_end_of_the_audio_wait_however_much_agreed() -> None:
    policy = LocalAgreement(margin=0.5)
    policy.update(words("all now is"), heard_until=1.6)
    # "is" (1.0-1.4 s) ends 0.2 s before the audio does: it may be a word cut short.
    assert texts(policy.update(words("all now is"), heard_until=1.6)) == "all now"
    assert texts(policy.update(words("is alongside"), heard_until=2.6)) == "is"


def test_flush_commits_the_tentative_tail_and_starts_afresh() -> None:
    policy = LocalAgreement()
    policy.update(words("one two"))
    policy.update(words("one two three"))
    assert texts(policy.flush()) == "three"
    assert texts(policy.committed) == "one two three"
    assert policy.tentative == ()
    assert policy.update(words("four", 2.0)) == ()  # a new utterance needs two again


# --- VAD --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speech_detector() -> SpeechDetector:
    return SpeechDetector()


def test_vad_finds_speech_in_speech_and_none_in_silence_or_noise(
    speech_detector: SpeechDetector, english_dev: list
) -> None:
    speech = decode_audio(english_dev[3].path)
    speech_detector.reset()
    # Fed in uneven pieces, as a microphone delivers them: frames carry over.
    probabilities = np.concatenate(
        [speech_detector.feed(speech[i : i + 1234]) for i in range(0, len(speech), 1234)]
    )
    assert len(probabilities) == len(speech) // 512
    assert speech_detector.is_speech(probabilities).mean() > 0.5
    rng = np.random.default_rng(1)
    for quiet in (np.zeros(RATE * 5, np.float32), white_noise(rng, 5, -20.0)):
        speech_detector.reset()
        assert not speech_detector.is_speech(speech_detector.feed(quiet)).any()


# --- the streaming transcriber ----------------------------------------------------------------


def white_noise(rng: np.random.Generator, seconds: float, dbfs: float) -> np.ndarray:
    return (rng.standard_normal(int(RATE * seconds)) * 10 ** (dbfs / 20)).astype(np.float32)


def brown_noise(rng: np.random.Generator, seconds: float, dbfs: float) -> np.ndarray:
    """Rumble: integrated white noise, high-passed at ~10 Hz so it does not drift."""
    walk = np.cumsum(rng.standard_normal(int(RATE * seconds)))
    walk -= np.convolve(walk, np.ones(RATE // 10) / (RATE // 10), mode="same")
    return (walk / np.sqrt(np.mean(walk**2)) * 10 ** (dbfs / 20)).astype(np.float32)


@pytest.fixture(scope="module")
def loaded():  # type: ignore[no-untyped-def]
    from voxtune.engine.models import load_model

    return load_model()


def stream(transcriber: StreamingTranscriber, audio: np.ndarray, block: float = 0.1) -> list:
    updates: list[StreamUpdate] = []
    size = int(RATE * block)
    for first in range(0, len(audio), size):
        updates += transcriber.feed(audio[first : first + size])
    return updates + transcriber.finish()


def test_thirty_seconds_of_silence_commit_nothing_and_cost_no_decode(loaded) -> None:  # type: ignore[no-untyped-def]
    transcriber = StreamingTranscriber(loaded)
    updates = stream(transcriber, np.zeros(RATE * 30, dtype=np.float32))
    assert transcriber.committed == ()
    assert transcriber.decodes == 0
    assert [u.final for u in updates] == [True]  # only the end is announced
    assert updates[0].committed == () and updates[0].partial == ()
    assert transcriber.buffer_seconds <= StreamingOptions().preroll_seconds


@pytest.mark.parametrize("noise", [white_noise, brown_noise])
def test_thirty_seconds_of_noise_commit_nothing(loaded, noise) -> None:  # type: ignore[no-untyped-def]
    transcriber = StreamingTranscriber(loaded)
    audio = noise(np.random.default_rng(2), 30, -20.0)
    updates = stream(transcriber, audio)
    assert transcriber.committed == ()
    assert all(u.committed == () for u in updates)


def test_streamed_speech_commits_for_good_and_matches_the_reference(loaded, english_dev) -> None:  # type: ignore[no-untyped-def]
    # A short trim setting forces cuts inside this one sentence, so bounding is exercised too.
    options = StreamingOptions(trim_seconds=4.0, max_buffer_seconds=6.0)
    transcriber = StreamingTranscriber(loaded, options)
    utterance = english_dev[0]
    snapshots: list[tuple[Word, ...]] = []
    updates = []
    with FileSource(utterance.path, speed=None, block_seconds=0.25) as source:
        for update in transcriber.run(source):
            updates.append(update)
            snapshots.append(transcriber.committed)
    duration = len(decode_audio(utterance.path)) / RATE

    # Committed words never change: every snapshot extends the one before, word for word,
    # and the updates' committed parts, joined, are exactly the final committed text.
    for before, after in itertools.pairwise(snapshots):
        assert after[: len(before)] == before
    assert tuple(w for u in updates for w in u.committed) == transcriber.committed
    assert updates[-1].final and updates[-1].partial == ()
    assert not any(u.final for u in updates[:-1])
    # Something was provisional before it was final, and updates only came on change.
    assert any(u.partial for u in updates)
    for before, after in itertools.pairwise(updates):
        assert after.committed or texts(after.partial) != texts(before.partial) or after.final

    committed = transcriber.committed
    assert word_error_rate([utterance.reference], [texts(committed)]) < 0.35
    assert all(0.0 <= w.start <= w.end <= duration + 0.05 for w in committed)
    assert all(a.start <= b.start for a, b in itertools.pairwise(committed))
    assert all(0.0 <= w.confidence <= 1.0 for w in committed)
    assert transcriber.peak_buffer_seconds <= options.max_buffer_seconds + options.step_seconds
    assert transcriber.buffer_start > 0.0  # it was cut


def test_a_whole_utterance_in_one_step_reads_as_the_offline_decoder_writes_it(
    loaded, english_dev
) -> None:  # type: ignore[no-untyped-def]
    # The live decoder writes timestamps as offline Whisper does: without them the same model
    # reads "the romantic" as "a romantic" and "can fly" as "comply" here. Offline without
    # VAD and fallback sees the very same audio, so each file must read word for word alike.
    from voxtune.engine.evaluation import normalize_text
    from voxtune.engine.families.whisper.continuation import ContinuationDecoder
    from voxtune.engine.stream.updates import live_transcription_options
    from voxtune.engine.transcribe import Transcriber
    from voxtune.engine.types import TranscriptionOptions

    live = ContinuationDecoder(loaded, live_transcription_options())
    offline = Transcriber(loaded)
    options = TranscriptionOptions(vad=False, temperatures=(0.0,))
    for utterance in english_dev:
        audio = decode_audio(utterance.path)
        streamed = texts(live.decode(audio, 0.0).words)
        segments, _ = offline.transcribe(audio, options)
        written = " ".join(s.text for s in segments)
        assert normalize_text(streamed) == normalize_text(written), utterance.path.name


def test_a_pause_commits_the_utterance_and_the_silence_after_costs_nothing(loaded, ivr_set) -> None:  # type: ignore[no-untyped-def]
    prompt = next(u for u in ivr_set if "agent number" in u.reference)
    speech = decode_audio(prompt.path)
    updates = []
    transcriber = StreamingTranscriber(loaded)
    size = RATE // 10
    for first in range(0, len(speech), size):
        updates += transcriber.feed(speech[first : first + size])
    silence = np.zeros(RATE // 10, dtype=np.float32)
    for _ in range(10):  # one second: the utterance ends
        updates += transcriber.feed(silence)
    assert transcriber.policy.tentative == ()
    assert word_error_rate([prompt.reference], [texts(transcriber.committed)]) < 0.2
    decodes = transcriber.decodes
    for _ in range(100):  # ten more seconds of silence
        updates += transcriber.feed(silence)
    assert transcriber.decodes == decodes
    # What is held: the utterance's end, to be heard again with the next one, and at most
    # half a second of the silence after it; the other 10.5 s of silence are gone.
    context = transcriber.context_seconds
    assert 1.0 <= context <= StreamingOptions().context_seconds + 0.5
    assert transcriber.buffer_seconds - context <= 0.5


def test_a_late_reader_handing_over_everything_at_once_still_gets_every_utterance(
    loaded, ivr_set
) -> None:  # type: ignore[no-untyped-def]
    first = next(u for u in ivr_set if u.path.name == "ivr-conf-extended.ogg")
    second = next(u for u in ivr_set if u.path.name == "ivr-info-about-last-call.ogg")
    pause = np.zeros(RATE * 2, dtype=np.float32)
    audio = np.concatenate((decode_audio(first.path), pause, decode_audio(second.path), pause))
    transcriber = StreamingTranscriber(loaded)
    updates = transcriber.feed(audio)  # 8 s in one call, as after a long stall
    # Each utterance ended where it was spoken and was decoded once, not once a second.
    assert transcriber.decodes == 2
    assert len(updates) == 2
    assert updates[0].committed + updates[1].committed == transcriber.committed
    assert word_error_rate([first.reference], [texts(updates[0].committed)]) < 0.2
    assert word_error_rate([second.reference], [texts(updates[1].committed)]) < 0.2
    assert updates[0].committed[-1].end < len(decode_audio(first.path)) / RATE + 0.3
    assert updates[1].committed[0].start > len(decode_audio(first.path)) / RATE + 1.5


def test_without_agreement_the_buffer_is_still_bounded_by_committing_what_it_has(
    loaded, english_dev
) -> None:  # type: ignore[no-untyped-def]
    # Nine decodes in a row never agree on this sentence: only the window bound commits.
    options = StreamingOptions(agreement=9, trim_seconds=3.0, max_buffer_seconds=4.0)
    transcriber = StreamingTranscriber(loaded, options)
    utterance = english_dev[2]
    snapshots = []
    for update in stream(transcriber, decode_audio(utterance.path), block=0.5):
        assert not update.final or update.partial == ()
        snapshots.append(transcriber.committed)
    for before, after in itertools.pairwise(snapshots):
        assert after[: len(before)] == before
    assert transcriber.peak_buffer_seconds <= options.max_buffer_seconds + 0.25
    assert word_error_rate([utterance.reference], [texts(transcriber.committed)]) < 0.5


def test_the_next_utterance_is_heard_with_the_end_of_the_one_before(loaded, ivr_set) -> None:  # type: ignore[no-untyped-def]
    first = next(u for u in ivr_set if u.path.name == "ivr-conf-extended.ogg")
    second = next(u for u in ivr_set if u.path.name == "ivr-info-about-last-call.ogg")
    one, two = decode_audio(first.path), decode_audio(second.path)
    pause = np.zeros(RATE * 3, dtype=np.float32)
    transcriber = StreamingTranscriber(loaded)
    heard: list[tuple[float, int, int]] = []  # (audio time, samples decoded, prefix tokens)
    decode = transcriber.decoder.decode

    def spy(audio, offset, **context):  # type: ignore[no-untyped-def]
        heard.append((transcriber.audio_time, len(audio), len(context["prefix"])))
        return decode(audio, offset, **context)

    transcriber.decoder.decode = spy  # type: ignore[method-assign]
    stream(transcriber, np.concatenate((one, pause, two, pause)))
    second_starts = (len(one) + len(pause)) / RATE
    first_words = [w for w in transcriber.committed if w.end < second_starts]
    later = transcriber.committed[len(first_words) :]
    assert word_error_rate([first.reference], [texts(first_words)]) < 0.2
    assert word_error_rate([second.reference], [texts(later)]) < 0.2
    # Times are where the words were spoken, though the pause between was left out (a last
    # word may stretch into the silence that ended its utterance).
    assert later[0].start > second_starts
    end_of_speech = StreamingOptions().end_of_speech_seconds
    assert later[-1].end <= second_starts + len(two) / RATE + end_of_speech
    # The second utterance's first decode has the first's committed words as its forced
    # prefix and their audio before its own; of the 3 s pause at most 0.3 + 0.3 s is held.
    at, samples, prefix = next(h for h in heard if h[0] > second_starts)
    assert prefix >= len(first_words)
    assert samples > (at - second_starts) * RATE + 0.8 * len(one)
    assert samples < (at - second_starts + 0.6) * RATE + len(one)
