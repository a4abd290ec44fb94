"""Qwen3-ASR transcription: the engine API and ``voxtune transcribe`` on real speech.

The models are tiny and random, so the text means nothing; what is checked is structure
(segments, times inside the audio, confidences, language, word timing) and that our decoding
sees exactly the logits of transformers' own forward pass.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Utterance

from voxtune.engine.audio import decode_audio
from voxtune.engine.errors import ModelError, VoxtuneError
from voxtune.engine.families.qwen3_asr.transcriber import Chunk
from voxtune.engine.families.qwen3_asr.words import parse_output
from voxtune.engine.models import load_model
from voxtune.engine.transcribe import Qwen3Transcriber, make_transcriber
from voxtune.engine.types import TranscriptionOptions

# Cached decoding (one token at a time against a KV cache) and one full forward pass sum in a
# different order; in float32 they agree to well within this.
LOGIT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def german(dev_set: list[Utterance]) -> Utterance:
    return next(u for u in dev_set if u.language == "de")


def test_pipeline_logits_equal_the_reference_forward(tiny_asr: Path, ivr_set: list) -> None:
    import torch

    transcriber = Qwen3Transcriber(load_model(str(tiny_asr)))
    clips = [Chunk(decode_audio(u.path), 0.0) for u in ivr_set[:3]]  # lengths differ: padding
    inputs = transcriber.inputs(clips, TranscriptionOptions(language="en"))
    generation = transcriber.generate(inputs, max_new_tokens=6)
    sequences, prompt = generation.sequences, generation.prompt_length
    mask = torch.cat([inputs["attention_mask"], torch.ones_like(sequences[:, prompt:])], dim=1)
    with torch.inference_mode():
        reference = transcriber.loaded.model(
            input_ids=sequences,
            attention_mask=mask,
            input_features=inputs["input_features"],
            input_features_mask=inputs["input_features_mask"],
        ).logits[:, prompt - 1 : -1]
    assert generation.logits.shape == reference.shape
    assert torch.allclose(generation.logits, reference, atol=LOGIT_TOLERANCE, rtol=0)
    assert torch.equal(sequences[:, prompt:], generation.logits.argmax(-1))  # greedy


def test_output_is_parsed_into_language_and_scored_words(tiny_asr: Path) -> None:
    tokenizer = load_model(str(tiny_asr)).processor.tokenizer
    ids = tokenizer.encode("language German<asr_text> der fox is", add_special_tokens=False)
    parsed = parse_output(tokenizer, ids, [-0.5] * len(ids), language_forced=False)
    assert parsed.language_name == "German"
    assert [w.text for w in parsed.words] == [" der", " fox", " is"]
    assert parsed.text == " der fox is"
    assert all(math.isclose(w.confidence, math.exp(-0.5)) for w in parsed.words)


def test_segments_words_and_times_stay_inside_the_audio(
    tiny_asr: Path, tiny_aligner: Path, german: Utterance
) -> None:
    transcriber = make_transcriber(load_model(str(tiny_asr)), load_model(str(tiny_aligner)))
    audio = decode_audio(german.path)
    duration = len(audio) / 16000
    segments, info = transcriber.transcribe(audio, TranscriptionOptions(language="de"))
    segments = list(segments)
    assert info.language == "de" and info.model == "tiny-qwen3-asr"
    assert math.isclose(info.duration, duration)
    assert segments
    for segment in segments:
        assert 0 <= segment.start < segment.end <= duration + 1e-6
        assert segment.language == "de"
        assert segment.words and segment.text == "".join(w.text for w in segment.words)
        for word in segment.words:
            assert segment.start <= word.start <= word.end <= segment.end
            assert 0.0 <= word.confidence <= 1.0


def test_batch_gives_each_clip_its_own_segments(tiny_asr: Path, ivr_set: list) -> None:
    transcriber = Qwen3Transcriber(load_model(str(tiny_asr)), batch_size=4)
    audios = [decode_audio(u.path) for u in ivr_set[:5]]
    options = TranscriptionOptions(language="en", vad=False)
    results = transcriber.transcribe_batch(audios, options)
    assert len(results) == len(audios)
    for audio, segments in zip(audios, results, strict=True):
        assert len(segments) == 1
        assert segments[0].start == 0.0
        assert math.isclose(segments[0].end, len(audio) / 16000)
        assert segments[0].words == ()  # no aligner: segment times only
    alone, _ = transcriber.transcribe(audios[2], options)
    assert [s.text for s in alone] == [results[2][0].text]


def test_bad_requests_are_one_line_errors(tiny_asr: Path, tiny_aligner: Path) -> None:
    transcriber = Qwen3Transcriber(load_model(str(tiny_asr)))
    with pytest.raises(VoxtuneError, match=r"^tiny-qwen3-asr: language 'xx' is not one Qwen3"):
        transcriber.transcribe_batch([], TranscriptionOptions(language="xx"))
    with pytest.raises(VoxtuneError, match=r"^tiny-qwen3-asr: Qwen3-ASR only transcribes"):
        transcriber.transcribe_batch([], TranscriptionOptions(task="translate"))
    with pytest.raises(ModelError, match=r"^tiny-aligner: a forced aligner times words but"):
        make_transcriber(load_model(str(tiny_aligner)))


def voxtune(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxtune.app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_transcribes_with_and_without_the_aligner(
    tiny_asr: Path, tiny_aligner: Path, german: Utterance, tmp_path: Path
) -> None:
    common = [str(german.path), "--model", str(tiny_asr), "-l", "de", "-f", "json,srt", "-q"]
    timed = voxtune(
        "transcribe", *common, "--aligner", str(tiny_aligner), "-o", str(tmp_path / "a")
    )
    assert timed.returncode == 0, timed.stderr
    plain = voxtune("transcribe", *common, "--aligner", "none", "-o", str(tmp_path / "b"))
    assert plain.returncode == 0, plain.stderr
    stem = german.path.stem
    with_words = json.loads((tmp_path / "a" / f"{stem}.json").read_text())
    without = json.loads((tmp_path / "b" / f"{stem}.json").read_text())
    assert with_words["language"] == without["language"] == "de"
    assert [s["text"] for s in with_words["segments"]] == [s["text"] for s in without["segments"]]
    assert all(s["words"] for s in with_words["segments"])
    assert all(s["words"] == [] for s in without["segments"])  # segment-level times, marked
    for document in (with_words, without):
        for segment in document["segments"]:
            assert 0 <= segment["start"] < segment["end"] <= document["duration"]
    for name in ("a", "b"):
        assert (tmp_path / name / f"{stem}.srt").read_text().startswith("1\n")
