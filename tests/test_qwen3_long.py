"""Qwen3-ASR on long audio: overlapping chunks, merging their words, resuming, beam search.

The merge is checked on word lists whose answer is known; the loop on real speech joined into
one long region, with a tiny random model (its words mean nothing, the structure is checked).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from media_factory import REFERENCE_RATE, concatenate_speech
from qwen3_factory import build_scripted_qwen3_asr

from voxtune.engine.families.qwen3_asr.chunks import ChunkSpan, chunk_spans, first_span_at
from voxtune.engine.families.qwen3_asr.overlap import Cut, merge_overlap, normalise
from voxtune.engine.families.qwen3_asr.transcriber import Chunk
from voxtune.engine.models import load_model
from voxtune.engine.transcribe import Qwen3Transcriber
from voxtune.engine.types import Checkpoint, TranscriptionOptions

GREEDY = TranscriptionOptions(language="en", beam_size=1, vad=False)
# Beam search's per-token scores and a teacher-forced pass sum in a different order.
LOGPROB_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def speech(ivr_set: list) -> np.ndarray:
    """About 20 s of prompts 0.2 s apart: one long stretch of speech."""
    audio = concatenate_speech([u.path for u in ivr_set[:8]], gap=0.2)
    assert len(audio) / REFERENCE_RATE > 17.0
    return audio


# -- the chunk schedule ------------------------------------------------------------------------


def test_a_long_region_is_cut_into_chunks_that_share_the_overlap() -> None:
    spans = chunk_spans([(1.0, 21.0)], max_seconds=8.0, overlap=2.0)
    assert [(s.start, s.end) for s in spans] == [(1.0, 9.0), (7.0, 15.0), (13.0, 21.0)]
    assert [(s.shared_before, s.shared_after) for s in spans] == [(0, 2), (2, 2), (2, 0)]
    for earlier, later in itertools.pairwise(spans):
        assert earlier.end - later.start == 2.0


def test_short_regions_are_one_chunk_and_specks_are_skipped() -> None:
    spans = chunk_spans([(0.0, 8.0), (9.0, 9.05), (10.0, 18.5)], max_seconds=8.0, overlap=2.0)
    assert spans == [
        ChunkSpan(0.0, 8.0, 0, 0.0, 0.0),
        ChunkSpan(10.0, 18.0, 2, 0.0, 2.0),
        ChunkSpan(16.0, 18.5, 2, 2.0, 0.0),  # the rest: never shorter than the overlap
    ]
    assert first_span_at(spans, 2, 16.0) == 2 and first_span_at(spans, 3, 18.5) == 3


def test_without_overlap_chunks_meet_end_to_start() -> None:
    spans = chunk_spans([(0.0, 10.0)], max_seconds=4.0, overlap=0.0)
    assert [(s.start, s.end, s.shared_after) for s in spans] == [
        (0.0, 4.0, 0.0),
        (4.0, 8.0, 0.0),
        (8.0, 10.0, 0.0),
    ]


def test_an_overlap_of_more_than_half_a_chunk_is_refused() -> None:
    with pytest.raises(ValueError, match="overlap must be between 0 and half a chunk"):
        chunk_spans([(0.0, 10.0)], max_seconds=4.0, overlap=2.5)


# -- merging words -------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


def join(previous: list[str], following: list[str], cut: Cut) -> list[str]:
    return previous[: cut.keep] + following[cut.skip :]


def test_the_shared_run_is_found_despite_case_and_punctuation() -> None:
    previous = words("please hold while we connect your ca")
    following = words("We connect your call, thank you for waiting")
    cut = merge_overlap(previous, following, 0.3, 0.3)
    assert cut.matched == 3  # "we connect your"; the cut-off "ca" is dropped
    assert join(previous, following, cut) == (
        words("please hold while we connect your call, thank you for waiting")
    )


def test_one_common_word_is_not_enough_and_the_midpoint_is_used() -> None:
    previous = [f"a{i}" for i in range(10)] + ["the"]
    following = ["the"] + [f"b{i}" for i in range(9)]
    cut = merge_overlap(previous, following, 0.2, 0.2)
    assert cut == Cut(keep=10, skip=1, matched=0)  # 10% of each chunk's words go at the cut


def test_merging_with_nothing_on_one_side() -> None:
    assert merge_overlap([], ["a", "b"], 0.25, 0.25) == Cut(keep=0, skip=0, matched=0)
    assert merge_overlap(["a", "b", "c", "d"], [], 0.5, 0.5) == Cut(keep=3, skip=0, matched=0)
    assert normalise(" Don't!") == "dont" and normalise("—") == ""


def test_a_run_outside_the_overlap_is_not_matched() -> None:
    # "x y" repeats far from the cut: only the overlap's share of words (with slack) is searched.
    previous = ["x", "y"] + [f"p{i}" for i in range(40)]
    following = [f"q{i}" for i in range(40)] + ["x", "y"]
    assert merge_overlap(previous, following, 0.05, 0.05).matched == 0


# -- the loop on long speech -------------------------------------------------------------------


def test_long_speech_gives_ordered_segments_that_meet_in_the_overlaps(
    tiny_asr: Path, speech: np.ndarray
) -> None:
    transcriber = Qwen3Transcriber(load_model(str(tiny_asr)), batch_size=2, max_chunk_seconds=8)
    spans = transcriber.spans([(0.0, len(speech) / REFERENCE_RATE)])
    assert len(spans) >= 3
    segments, info = transcriber.transcribe(speech, GREEDY)
    segments = list(segments)
    assert info.language == "en" and len(segments) == len(spans)
    for span, segment in zip(spans, segments, strict=True):
        assert segment.start == span.start + span.shared_before / 2
        assert segment.end == span.end - span.shared_after / 2
    for earlier, later in itertools.pairwise(segments):
        assert math.isclose(earlier.end, later.start)  # cut in the middle of the shared audio


# 1001 / 16000 s: a time whose float, times 16000, falls just short of 1001 (int() gives 1000).
AWKWARD_OFFSET = 1001 / REFERENCE_RATE


@pytest.mark.parametrize("offset", [0.0, AWKWARD_OFFSET])
def test_resuming_from_any_checkpoint_gives_the_uninterrupted_result(
    tiny_asr: Path, speech: np.ndarray, offset: float
) -> None:
    """Resumed as the job runner does: the file decoded from the checkpoint's sample."""
    from voxtune.engine.transcribe.samples import sample_index

    first = round(offset * REFERENCE_RATE)  # the file's sample at ``speech[0]``
    transcriber = Qwen3Transcriber(load_model(str(tiny_asr)), batch_size=2, max_chunk_seconds=8)
    checkpoints = [transcriber.begin(speech, GREEDY, offset=offset)]
    produced = []
    for segments, checkpoint in transcriber.windows(speech, GREEDY, checkpoints[0], offset=offset):
        produced.append(segments)
        checkpoints.append(checkpoint)
    assert checkpoints[-1].finished and len(checkpoints) >= 3
    held = [c for c in checkpoints[1:-1] if c.skip_words > 0]
    assert held, "no checkpoint points into the middle of a region's overlapping chunks"
    whole, _ = transcriber.transcribe(speech, GREEDY, offset=offset)
    assert [s for window in produced for s in window] == list(whole)

    for index, checkpoint in enumerate(checkpoints[1:-1], start=1):
        start = sample_index(checkpoint.seek) / REFERENCE_RATE  # as the runner computes it
        rest = speech[round(start * REFERENCE_RATE) - first :]  # as decode_audio cuts it
        saved = Checkpoint.from_json(checkpoint.to_json())
        assert saved == checkpoint
        resumed = [s for w, _ in transcriber.windows(rest, GREEDY, saved, offset=start) for s in w]
        assert resumed == [s for window in produced[index:] for s in window], index


def test_batched_clips_merge_their_chunks_as_the_loop_does(
    tiny_asr: Path, speech: np.ndarray
) -> None:
    transcriber = Qwen3Transcriber(load_model(str(tiny_asr)), batch_size=8, max_chunk_seconds=8)
    [batched] = transcriber.transcribe_batch([speech], GREEDY)
    alone, _ = transcriber.transcribe(speech, GREEDY)
    alone = list(alone)
    assert [(s.start, s.end) for s in batched] == [(s.start, s.end) for s in alone]
    assert [s.text for s in batched] == [s.text for s in alone]


def test_silence_gives_no_chunks_and_no_segments(tiny_asr: Path) -> None:
    transcriber = Qwen3Transcriber(load_model(str(tiny_asr)))
    silence = np.zeros(5 * REFERENCE_RATE, np.float32)
    options = TranscriptionOptions(language="en", beam_size=1)
    checkpoint = transcriber.begin(silence, options)
    assert checkpoint.finished and transcriber.chunks(silence, options) == []
    segments, info = transcriber.transcribe(silence, options)
    assert list(segments) == [] and info.duration == 5.0
    assert transcriber.transcribe_batch([silence], options) == [[]]


# -- beam search -------------------------------------------------------------------------------


def test_beam_token_logprobs_are_those_of_a_teacher_forced_pass(
    tiny_asr: Path, ivr_set: list
) -> None:
    import torch

    from voxtune.engine.audio import decode_audio

    transcriber = Qwen3Transcriber(load_model(str(tiny_asr)))
    clips = [Chunk(decode_audio(u.path), 0.0) for u in ivr_set[:2]]
    inputs = transcriber.inputs(clips, TranscriptionOptions(language="en"))
    generation = transcriber.generate(inputs, max_new_tokens=8, beam_size=3)
    sequences, prompt = generation.sequences, generation.prompt_length
    assert generation.token_logprobs.shape == (2, sequences.shape[1] - prompt)
    mask = torch.cat([inputs["attention_mask"], torch.ones_like(sequences[:, prompt:])], dim=1)
    with torch.inference_mode():
        logits = transcriber.loaded.model(
            input_ids=sequences,
            attention_mask=mask,
            input_features=inputs["input_features"],
            input_features_mask=inputs["input_features_mask"],
        ).logits[:, prompt - 1 : -1]
    forced = torch.log_softmax(logits.float(), -1).gather(-1, sequences[:, prompt:, None])[..., 0]
    assert torch.allclose(generation.token_logprobs, forced, atol=LOGPROB_TOLERANCE, rtol=0)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_greedy_and_beam_search_give_scored_words(
    tiny_asr: Path, tiny_aligner: Path, ivr_set: list, beam_size: int
) -> None:
    from voxtune.engine.audio import decode_audio

    transcriber = Qwen3Transcriber(load_model(str(tiny_asr)), load_model(str(tiny_aligner)))
    audio = decode_audio(ivr_set[0].path)
    options = TranscriptionOptions(language="en", beam_size=beam_size)
    segments, info = transcriber.transcribe(audio, options)
    segments = list(segments)
    assert info.options.beam_size == beam_size and segments
    for segment in segments:
        assert segment.words and segment.text == "".join(w.text for w in segment.words)
        assert segment.avg_logprob < 0.0
        for word in segment.words:
            assert 0.0 < word.confidence <= 1.0
        mean = sum(math.log(w.confidence) for w in segment.words) / len(segment.words)
        assert mean < 0.0


def test_words_two_chunks_both_heard_are_given_once(
    tmp_path_factory: pytest.TempPathFactory, speech: np.ndarray
) -> None:
    # This model says the same sentence for every chunk, as if each had heard all of it: the
    # overlaps line the copies up, so the long region's text is the sentence once.
    folder = build_scripted_qwen3_asr(tmp_path_factory.mktemp("qwen3") / "scripted")
    loaded = load_model(str(folder))
    results = []
    for batch_size in (2, 8):  # chunks held back between batches, or all in one batch
        transcriber = Qwen3Transcriber(loaded, batch_size=batch_size, max_chunk_seconds=8)
        assert len(transcriber.spans([(0.0, len(speech) / REFERENCE_RATE)])) >= 3
        segments, _ = transcriber.transcribe(speech, GREEDY)
        results.append([s.text for s in segments])
    assert results[0] == results[1]
    assert "".join(results[0]).split() == words("the quick brown fox jumps over lazy dog")
    adjacent = Qwen3Transcriber(loaded, max_chunk_seconds=8, overlap_seconds=0.0)
    segments, _ = adjacent.transcribe(speech, GREEDY)  # no overlap: nothing to merge
    assert [s.text for s in segments] == [" the quick brown fox jumps over lazy dog"] * 3
