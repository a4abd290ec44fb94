"""Subtitles on real prompts: the ivr recordings' texts timed over their real durations.

Each prompt's words are spread over its recording (by characters, after a short lead-in),
and the prompts are joined with known gaps into one long (about 24 minute) transcript, so
every word's position is known and every cue can be checked against it.
"""

from __future__ import annotations

import html
import random
import re
import textwrap
from dataclasses import dataclass

import av
import pytest
import srt
import webvtt
from conftest import Utterance
from test_subtitles_cues import assert_keeps_rules

from voxtune.engine.subtitles import Cue, SubtitleRules, make_cues, to_srt, to_vtt
from voxtune.engine.types import Segment, Transcript, Word

RULES = SubtitleRules()


@dataclass(frozen=True)
class Prompt:
    utterance: Utterance
    start: float  # where the recording begins in the long transcript
    duration: float  # of the real recording, from PyAV


def audio_seconds(utterance: Utterance) -> float:
    with av.open(str(utterance.path)) as container:
        return container.duration / av.time_base


def spoken(reference: str, start: float, duration: float) -> Segment:
    """The reference's words spread over [start, start + duration] in proportion to length.

    A lead-in and tail of up to 0.1 s are left silent, and each word keeps 15% of its share
    as a gap after it, so words never touch.
    """
    tokens = reference.split()
    margin = min(0.1, duration * 0.1)
    per_char = (duration - 2 * margin) / sum(len(t) for t in tokens)
    words, clock = [], start + margin
    for token in tokens:
        share = len(token) * per_char
        words.append(Word(f" {token}", round(clock, 3), round(clock + 0.85 * share, 3), 0.9))
        clock += share
    return Segment(words[0].start, words[-1].end, f" {' '.join(tokens)}", tuple(words), "en")


@pytest.fixture(scope="module")
def prompts(ivr_set: list[Utterance]) -> list[Prompt]:
    rng = random.Random(443)
    clock, prompts = 0.0, []
    for utterance in ivr_set:
        duration = audio_seconds(utterance)
        prompts.append(Prompt(utterance, round(clock, 3), duration))
        clock += duration + rng.uniform(0.2, 1.0)
    return prompts


@pytest.fixture(scope="module")
def long_transcript(prompts: list[Prompt]) -> Transcript:
    segments = tuple(spoken(p.utterance.reference, p.start, p.duration) for p in prompts)
    end = prompts[-1].start + prompts[-1].duration
    return Transcript(segments, "en", end, "ivr-references")


@pytest.fixture(scope="module")
def long_cues(long_transcript: Transcript) -> list[Cue]:
    return make_cues(long_transcript, RULES)


def test_the_long_transcript_is_real_and_long(prompts: list[Prompt], long_transcript) -> None:
    assert len(prompts) == 443
    assert sum(p.duration for p in prompts) / 60 == pytest.approx(19.5, abs=0.5)
    assert long_transcript.duration / 60 > 22


def test_long_transcript_keeps_every_rule(long_transcript: Transcript, long_cues) -> None:
    assert_keeps_rules(long_cues, long_transcript, RULES)


def test_every_cue_stays_within_its_prompt(
    prompts: list[Prompt], long_transcript: Transcript, long_cues: list[Cue]
) -> None:
    segments = long_transcript.segments
    limits = [*(s.start for s in segments[1:]), long_transcript.duration]
    texts: dict[int, list[str]] = {}
    index = 0
    for cue in long_cues:
        while cue.start >= limits[index]:
            index += 1
        # A cue may run on into silence, never into the next prompt's speech.
        assert segments[index].start <= cue.start <= cue.end <= limits[index], cue
        assert cue.end <= prompts[index].start + prompts[index].duration or (
            cue.end - cue.start <= RULES.min_duration + 1e-6
        ), f"{cue} was stretched past its recording though long enough"
        texts.setdefault(index, []).extend(cue.lines)
    for index, prompt in enumerate(prompts):
        assert " ".join(texts[index]) == " ".join(prompt.utterance.reference.split())


def test_long_srt_reads_back_exactly(long_transcript: Transcript, long_cues) -> None:
    parsed = list(srt.parse(to_srt(long_transcript, RULES)))
    assert len(parsed) == len(long_cues)
    for sub, cue in zip(parsed, long_cues, strict=True):
        assert round(sub.start.total_seconds() * 1000) == round(cue.start * 1000)
        assert round(sub.end.total_seconds() * 1000) == round(cue.end * 1000)
        assert sub.content == "\n".join(cue.lines)
    assert parsed[-1].end.total_seconds() <= long_transcript.duration


def test_long_vtt_reads_back_exactly(long_transcript: Transcript, long_cues) -> None:
    parsed = list(webvtt.from_string(to_vtt(long_transcript, RULES), strict=True))
    assert [(c.start_time.in_milliseconds(), c.end_time.in_milliseconds()) for c in parsed] == [
        (round(c.start * 1000), round(c.end * 1000)) for c in long_cues
    ]
    assert [html.unescape(c.text) for c in parsed] == ["\n".join(c.lines) for c in long_cues]


def test_long_prompts_are_cut_between_sentences(prompts: list[Prompt], long_cues) -> None:
    """Where every sentence fits a cue of its own, no cue breaks a sentence."""
    checked = 0
    for prompt in prompts:
        text = prompt.utterance.reference
        sentences = re.split(r"(?<=[.?!])\s+", text)
        needs_cuts = len(text) > RULES.max_line_chars * RULES.max_lines or (
            prompt.duration > RULES.max_duration
        )
        # textwrap: an independent judge of "fits in two lines"; our timing shares by length.
        fits = all(
            len(textwrap.wrap(s, RULES.max_line_chars)) <= RULES.max_lines
            and len(s) / len(text) * prompt.duration < RULES.max_duration - 0.5
            for s in sentences
        )
        if not (needs_cuts and fits and len(sentences) > 1):
            continue
        checked += 1
        end = prompt.start + prompt.duration
        cues = [c for c in long_cues if prompt.start <= c.start < end]
        assert len(cues) > 1
        for cue in cues[:-1]:
            assert re.search(r"[.?!]$", cue.lines[-1]), (text, [c.lines for c in cues])
    assert checked >= 8  # the check has real prompts to bite on


def test_each_prompt_alone_fits_its_real_recording(prompts: list[Prompt]) -> None:
    short_prompts = 0
    for prompt in prompts:
        segment = spoken(prompt.utterance.reference, 0.0, prompt.duration)
        transcript = Transcript((segment,), "en", prompt.duration, "ivr-reference")
        cues = make_cues(transcript, RULES)
        assert_keeps_rules(cues, transcript, RULES)
        assert cues[-1].end <= prompt.duration
        if len(cues) == 1:
            # A short prompt ("Activated.") is stretched to the minimum or to the recording's end.
            (cue,) = cues
            stretched = max(cue.words[-1].end, min(cue.start + RULES.min_duration, prompt.duration))
            assert stretched - 0.001 <= cue.end <= stretched  # the audio's end, to the ms below
            short_prompts += 1
    assert short_prompts > 300
