"""SRT, WebVTT, TXT and JSON renderings, read back by independent parsers."""

from __future__ import annotations

import html
import json
import math
import random
import re
from pathlib import Path

import pytest
import srt
import webvtt
from test_subtitles_cues import random_transcript

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.subtitles import (
    SCHEMA_VERSION,
    SubtitleRules,
    make_cues,
    to_json,
    to_srt,
    to_txt,
    to_vtt,
    transcript_from_json,
)
from voxtune.engine.subtitles.text_formats import timestamp
from voxtune.engine.types import Segment, Transcript, Word

DOC = Path(__file__).resolve().parents[1] / "docs" / "transcript-json.md"


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def sample_transcript() -> Transcript:
    words = (
        Word(" Press", 0.5, 0.9, 0.91),
        Word(" <star>", 0.95, 1.4, 0.42),
        Word(" &", 1.45, 1.6, 0.6),
        Word(" -->", 1.65, 1.9, 0.3),
        Word(" exit.", 1.95, 2.4, 0.88),
    )
    segments = (
        Segment(0.5, 2.4, "".join(w.text for w in words), words, "en", -0.3, 0.01, 1.1, 0.0),
        Segment(3.0, 4.5, "  Goodbye,\n  and   thanks. ", (), "en", -0.5, 0.02, 0.9, 0.2),
        Segment(5.0, 5.5, "   ", (), "en"),
    )
    return Transcript(segments, "en", 6.0, "test-model")


@pytest.mark.parametrize(
    ("seconds", "srt_time", "vtt_time"),
    [
        (0.0, "00:00:00,000", "00:00:00.000"),
        (1.0005, "00:00:01,000", "00:00:01.000"),
        (61.25, "00:01:01,250", "00:01:01.250"),
        (3725.5, "01:02:05,500", "01:02:05.500"),
        (360_000.0, "100:00:00,000", "100:00:00.000"),
    ],
)
def test_timestamps(seconds: float, srt_time: str, vtt_time: str) -> None:
    assert timestamp(seconds, ",") == srt_time
    assert timestamp(seconds, ".") == vtt_time


def test_srt_reads_back_with_the_srt_library() -> None:
    rng = random.Random(31)
    for _ in range(25):
        transcript = random_transcript(rng)
        cues = make_cues(transcript)
        text = to_srt(transcript)
        parsed = list(srt.parse(text))
        assert [s.index for s in parsed] == list(range(1, len(cues) + 1))
        assert [(ms(s.start.total_seconds()), ms(s.end.total_seconds())) for s in parsed] == [
            (ms(c.start), ms(c.end)) for c in cues
        ]
        assert [s.content for s in parsed] == ["\n".join(c.lines) for c in cues]
        # The library's own writer gives back our text: the layout is the canonical one.
        assert srt.compose(parsed, reindex=False) == text


def test_srt_layout() -> None:
    text = to_srt(sample_transcript())
    assert text.startswith("1\n00:00:00,500 --> 00:00:02,400\nPress <star> & --> exit.\n\n2\n")
    assert text.endswith("\n\n") and not text.endswith("\n\n\n")


def test_vtt_reads_back_with_webvtt_py() -> None:
    rng = random.Random(32)
    for _ in range(25):
        transcript = random_transcript(rng)
        cues = make_cues(transcript)
        parsed = webvtt.from_string(to_vtt(transcript), strict=True)
        assert [(c.start_time.in_milliseconds(), c.end_time.in_milliseconds()) for c in parsed] == [
            (ms(c.start), ms(c.end)) for c in cues
        ]
        assert [html.unescape(c.text) for c in parsed] == ["\n".join(c.lines) for c in cues]


def test_vtt_escapes_markup_characters() -> None:
    text = to_vtt(sample_transcript())
    assert text.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.400\n")
    assert "Press &lt;star&gt; &amp; --&gt; exit." in text
    (first, *_rest) = webvtt.from_string(text, strict=True)
    assert html.unescape(first.raw_text) == "Press <star> & --> exit."


def test_empty_transcript_renders_empty_files() -> None:
    empty = Transcript((), None, 0.0, "none")
    assert to_srt(empty) == ""
    assert to_vtt(empty) == "WEBVTT\n\n"
    assert to_txt(empty) == ""
    assert list(webvtt.from_string(to_vtt(empty), strict=True)) == []


def test_rules_reach_the_renderers() -> None:
    narrow = SubtitleRules(max_line_chars=12, max_lines=1)
    for sub in srt.parse(to_srt(sample_transcript(), narrow)):
        assert "\n" not in sub.content and len(sub.content) <= 12


def test_txt_is_one_tidy_segment_a_line() -> None:
    assert to_txt(sample_transcript()) == "Press <star> & --> exit.\nGoodbye, and thanks.\n"


def test_json_round_trips() -> None:
    rng = random.Random(33)
    for _ in range(25):
        transcript = random_transcript(rng)
        assert transcript_from_json(to_json(transcript)) == transcript
    sample = sample_transcript()
    assert transcript_from_json(to_json(sample)) == sample


def test_json_rounds_times_to_milliseconds_only() -> None:
    word = Word(" hi", 1.23456, 2.00049, 0.123456789)
    segment = Segment(1.23456, 2.00049, " hi", (word,), "en", avg_logprob=-0.123456789)
    document = json.loads(to_json(Transcript((segment,), "en", 3.14159, "m")))
    assert document["duration"] == 3.142
    assert (document["segments"][0]["start"], document["segments"][0]["end"]) == (1.235, 2.0)
    assert document["segments"][0]["avg_logprob"] == -0.123456789
    assert document["segments"][0]["words"][0] == {
        "text": " hi",
        "start": 1.235,
        "end": 2.0,
        "confidence": 0.123456789,
    }


def test_json_holds_the_documented_fields() -> None:
    document = json.loads(to_json(sample_transcript()))
    assert document["format"] == "voxtune-transcript"
    assert document["version"] == SCHEMA_VERSION == 1
    assert (document["model"], document["language"], document["duration"]) == (
        "test-model",
        "en",
        6.0,
    )
    assert [s["id"] for s in document["segments"]] == [0, 1, 2]
    assert set(document["segments"][0]) == {
        "id",
        "start",
        "end",
        "text",
        "language",
        "avg_logprob",
        "no_speech_prob",
        "compression_ratio",
        "temperature",
        "timing",
        "words",
    }
    assert set(document["segments"][0]["words"][0]) == {"text", "start", "end", "confidence"}
    assert document["segments"][0]["timing"] == "word"


def test_json_marks_segments_timed_without_words() -> None:
    untimed = Segment(2.0, 4.5, " no aligner here", (), language="de")
    document = json.loads(to_json(Transcript((untimed,), "de", 5.0, "qwen3-asr-0.6b")))
    assert document["segments"][0]["timing"] == "segment"
    assert document["segments"][0]["words"] == []


def test_json_writes_non_finite_numbers_as_null_and_reads_nan() -> None:
    segment = Segment(0.0, 1.0, " x", (Word(" x", 0.0, 1.0, math.nan),), avg_logprob=-math.inf)
    text = to_json(Transcript((segment,), None, 1.0, "m"))
    json.loads(text)  # strict JSON: no NaN / Infinity tokens
    assert '"avg_logprob": null' in text and '"confidence": null' in text
    back = transcript_from_json(text)
    assert math.isnan(back.segments[0].avg_logprob)
    assert math.isnan(back.segments[0].words[0].confidence)


def test_json_keeps_non_ascii_text_readable() -> None:
    segment = Segment(0.0, 1.0, "こんにちは", (Word("こんにちは", 0.0, 1.0, 0.9),), "ja")
    text = to_json(Transcript((segment,), "ja", 1.0, "m"))
    assert "こんにちは" in text
    assert transcript_from_json(text).segments[0].text == "こんにちは"


def test_the_documented_example_is_exactly_what_voxtune_writes() -> None:
    example = re.search(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert example is not None, f"{DOC} has no JSON example"
    transcript = transcript_from_json(example.group(1), source=str(DOC))
    assert transcript.segments[0].words and not transcript.segments[1].words
    assert to_json(transcript) == example.group(1)


def valid_document() -> dict:
    return json.loads(to_json(sample_transcript()))


def mutated(change: str) -> str:
    document = valid_document()
    if change == "version":
        document["version"] = 2
    elif change == "format":
        del document["format"]
    elif change == "segments":
        document["segments"] = {"0": {}}
    elif change == "start":
        del document["segments"][1]["start"]
    elif change == "word-end":
        document["segments"][0]["words"][3]["end"] = "soon"
    elif change == "bool":
        document["segments"][0]["words"][0]["confidence"] = True
    elif change == "segment-kind":
        document["segments"][2] = [1, 2]
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "calls.json: not valid JSON (Expecting property name enclosed in double quotes"),
        ("[]", 'calls.json: not a Voxtune transcript (no "format": "voxtune-transcript")'),
        (mutated("format"), 'calls.json: not a Voxtune transcript (no "format"'),
        (
            mutated("version"),
            "calls.json: transcript version 2 is not supported (this Voxtune reads version 1)",
        ),
        (mutated("segments"), 'calls.json: "segments" must be a list, not an object'),
        (mutated("start"), 'calls.json: segment 1: "start" is missing'),
        (mutated("word-end"), 'calls.json: segment 0 word 3: "end" must be a number or null'),
        (mutated("bool"), 'calls.json: segment 0 word 0: "confidence" must be a number'),
        (mutated("segment-kind"), "calls.json: segment 2: must be an object"),
    ],
    ids=[
        "bad-json",
        "not-object",
        "no-format",
        "version",
        "segments-type",
        "missing-start",
        "word-end-type",
        "bool-number",
        "segment-type",
    ],
)
def test_bad_json_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(VoxtuneError) as caught:
        transcript_from_json(text, source="calls.json")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_optional_fields_may_be_left_out() -> None:
    document = {
        "format": "voxtune-transcript",
        "version": 1,
        "model": "m",
        "language": None,
        "duration": 2,
        "segments": [{"start": 0, "end": 1.5, "text": " hello"}],
    }
    transcript = transcript_from_json(json.dumps(document))
    assert transcript == Transcript((Segment(0.0, 1.5, " hello"),), None, 2.0, "m")
