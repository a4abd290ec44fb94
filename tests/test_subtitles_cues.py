"""Cue building: every broadcast rule, on many generated transcripts and on chosen cases."""

from __future__ import annotations

import itertools
import math
import random
import re

import pytest

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.subtitles import Cue, SubtitleRules, make_cues
from voxtune.engine.types import Segment, Transcript, Word

RULES = SubtitleRules()
EPS = 1e-6
# Words from the phone prompts, short and long; a data table, kept compact.
# fmt: off
VOCABULARY = (
    "the", "a", "to", "and", "press", "pound", "key", "extension", "conference", "mailbox",
    "number", "please", "enter", "your", "operator", "directory", "message", "recording",
    "zero", "one", "two", "three", "seven", "nineteen", "Comedian", "Mail", "unavailable",
    "administrator", "telephone", "transferred",
)
# fmt: on
UNSPACED = "日本語の字幕です"


def assert_keeps_rules(
    cues: list[Cue], transcript: Transcript, rules: SubtitleRules, *, exact_words: bool = True
) -> None:
    """Check every rule the cues must keep; ``exact_words``: words arrive unchanged."""
    bound = transcript.duration
    previous: Cue | None = None
    for index, cue in enumerate(cues):
        where = f"cue {index} {cue.lines}"
        assert 1 <= len(cue.lines) <= rules.max_lines, where
        for line in cue.lines:
            assert 0 < len(line) <= rules.max_line_chars, where
            assert line == line.strip(), where
        assert_lines_break_between_words(cue)
        assert 0 <= cue.start <= cue.end <= bound + EPS, where
        assert cue.start == pytest.approx(cue.words[0].start, abs=EPS), where
        if len(cue.words) > 1:
            assert cue.end - cue.start <= rules.max_duration + EPS, where
        for a, b in itertools.pairwise(cue.words):
            assert b.start - a.end < rules.pause_split, f"{where}: a long pause inside a cue"
        next_start = cues[index + 1].start if index + 1 < len(cues) else None
        # Times are on the millisecond grid, so the audio's end is reached to within 1 ms.
        limit, slack = (bound, 0.001) if next_start is None else (next_start - rules.min_gap, 0)
        if cue.end - cue.start < rules.min_duration - EPS:
            # Short only when stretching it would have overlapped the next cue or left the audio.
            assert limit - slack - EPS <= cue.end <= limit + EPS, f"{where}: short, room to grow"
        if rules.min_gap == 0:
            assert cue.end >= max(w.end for w in cue.words) - EPS, f"{where}: cut off its words"
        if previous is not None:
            assert cue.start >= previous.end + rules.min_gap - EPS, f"{where}: overlaps"
        previous = cue
    shown = [w for cue in cues for w in cue.words]
    if exact_words:
        assert shown == list(transcript.words), "words lost, repeated or reordered"
        owner = {id(w): i for i, s in enumerate(transcript.segments) for w in s.words}
        originals = list(transcript.words)
        position = 0
        for cue in cues:
            span = originals[position : position + len(cue.words)]
            assert len({owner[id(w)] for w in span}) == 1, f"cue {cue.lines} spans two segments"
            position += len(cue.words)


def assert_lines_break_between_words(cue: Cue) -> None:
    """Each line is exactly a run of the cue's words: no word is ever cut by a line break."""
    words = iter(cue.words)
    for line in cue.lines:
        built = ""
        while built.strip() != line:
            word = next(words, None)
            assert word is not None, f"line {line!r} is not made of the words {cue.words}"
            built += word.text
            assert len(built.strip()) <= len(line), f"line {line!r} cuts a word"
    assert next(words, None) is None, "words missing from the lines"


def random_transcript(rng: random.Random, *, spaced: bool = True) -> Transcript:
    """Realistic timings: words of 0.1–0.8 s, mostly short gaps, now and then a long pause."""
    segments = []
    clock = rng.uniform(0.0, 2.0)
    for _ in range(rng.randint(1, 12)):
        words = []
        for _ in range(rng.randint(1, 60)):
            text = rng.choice(VOCABULARY) if spaced else "".join(rng.choices(UNSPACED, k=2))
            text += rng.choices(["", ",", ".", "?", ";"], weights=[20, 3, 3, 1, 1])[0]
            duration = rng.uniform(0.1, 0.8) if rng.random() > 0.01 else rng.uniform(7.5, 10)
            words.append(Word((" " if spaced else "") + text, clock, clock + duration, 0.9))
            clock += duration + rng.choice([0.0, 0.0, 0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.5])
        clock = round(clock + rng.uniform(0.0, 2.0), 3)
        text = "".join(w.text for w in words)
        segments.append(Segment(words[0].start, words[-1].end, text, tuple(words), "en"))
    words = [w for s in segments for w in s.words]
    # Generated times sit on the millisecond grid, as the output formats do.
    grid = {id(w): Word(w.text, round(w.start, 3), round(w.end, 3), w.confidence) for w in words}
    segments = [
        Segment(
            round(s.start, 3), round(s.end, 3), s.text, tuple(grid[id(w)] for w in s.words), "en"
        )
        for s in segments
    ]
    duration = round(segments[-1].words[-1].end + rng.choice([0.0, 0.2, 3.0]), 3)
    return Transcript(tuple(segments), "en" if spaced else "ja", duration, "generated")


@pytest.mark.parametrize(
    "rules",
    [
        RULES,
        SubtitleRules(max_line_chars=32, max_lines=1, min_gap=0.08),
        SubtitleRules(max_line_chars=20, max_lines=3, min_duration=1.5, max_duration=4.0),
    ],
    ids=["broadcast", "one-line-with-gap", "narrow-three-lines"],
)
def test_generated_transcripts_keep_every_rule(rules: SubtitleRules) -> None:
    rng = random.Random(20240611)
    for _ in range(120):
        transcript = random_transcript(rng)
        assert_keeps_rules(make_cues(transcript, rules), transcript, rules)


def test_text_without_spaces_keeps_every_rule() -> None:
    rng = random.Random(7)
    for _ in range(60):
        transcript = random_transcript(rng, spaced=False)
        cues = make_cues(transcript, RULES)
        assert_keeps_rules(cues, transcript, RULES)
        assert all(" " not in line for cue in cues for line in cue.lines)


def messy_transcript(rng: random.Random) -> Transcript:
    """What a careless model might give: overlaps, times past the end, NaN, empty words."""
    duration = rng.uniform(1.0, 30.0)
    segments = []
    for _ in range(rng.randint(1, 6)):
        words = []
        for _ in range(rng.randint(0, 25)):
            start = rng.uniform(-2.0, duration + 3.0)
            end = start + rng.uniform(-0.5, 2.0)
            if rng.random() < 0.05:
                start = math.nan
            text = rng.choice([" press", " key.", "", "  ", " a\tb", " x" * rng.randint(1, 40)])
            words.append(Word(text, start, end, 0.5))
        text = rng.choice(["", " some text only, no words.", "".join(w.text for w in words)])
        start = rng.uniform(0.0, duration)
        segments.append(Segment(start, start + rng.uniform(0, 5), text, tuple(words), None))
    return Transcript(tuple(segments), None, duration, "messy")


def test_messy_timings_still_give_ordered_cues_inside_the_audio() -> None:
    rng = random.Random(99)
    for _ in range(300):
        transcript = messy_transcript(rng)
        cues = make_cues(transcript, RULES)
        for a, b in itertools.pairwise(cues):
            assert a.end <= b.start, "cues overlap"
        for cue in cues:
            assert 0 <= cue.start <= cue.end <= transcript.duration
            assert all(0 < len(line) <= RULES.max_line_chars for line in cue.lines)
            assert 1 <= len(cue.lines) <= RULES.max_lines


def speech(text: str, start: float = 0.0, word_s: float = 0.3, gap_s: float = 0.05) -> list[Word]:
    """Words of ``text`` spoken evenly from ``start``."""
    words, clock = [], start
    for token in text.split():
        words.append(Word(f" {token}", round(clock, 3), round(clock + word_s, 3), 0.9))
        clock += word_s + gap_s
    return words


def transcript_of(*word_lists: list[Word], duration: float | None = None) -> Transcript:
    segments = tuple(
        Segment(w[0].start, w[-1].end, "".join(x.text for x in w), tuple(w), "en")
        for w in word_lists
    )
    end = duration if duration is not None else segments[-1].end + 5.0
    return Transcript(segments, "en", end, "test")


def cue_texts(cues: list[Cue]) -> list[str]:
    return [" ".join(cue.lines) for cue in cues]


def test_a_short_word_is_stretched_to_the_minimum_duration() -> None:
    cues = make_cues(transcript_of([Word(" Activated.", 0.2, 0.8, 0.9)], duration=3.0))
    assert [(c.start, c.end, c.lines) for c in cues] == [(0.2, 1.2, ("Activated.",))]


def test_stretching_stops_at_the_next_cue_and_at_the_end_of_the_audio() -> None:
    first, second = [Word(" Yes.", 0.0, 0.3, 0.9)], [Word(" No.", 0.7, 0.9, 0.9)]
    cues = make_cues(transcript_of(first, second, duration=1.3))
    assert [(c.start, c.end) for c in cues] == [(0.0, 0.7), (0.7, 1.3)]


def test_min_gap_keeps_cues_apart() -> None:
    words = speech("one two three four five six seven", word_s=0.5, gap_s=0.0)
    rules = SubtitleRules(max_line_chars=10, max_lines=1, min_gap=0.1)
    cues = make_cues(transcript_of(words), rules)
    assert len(cues) > 2
    for a, b in itertools.pairwise(cues):
        assert b.start - a.end == pytest.approx(0.1, abs=EPS)


def test_a_cue_splits_after_a_sentence_rather_than_in_the_middle() -> None:
    text = (
        "Your call is important to us. Please stay on the line and an operator "
        "will be with you as soon as one becomes available"
    )
    cues = make_cues(transcript_of(speech(text)))
    assert cue_texts(cues)[0] == "Your call is important to us."


def test_a_cue_does_not_mix_the_end_of_one_sentence_with_part_of_the_next() -> None:
    text = (
        "To establish a sales partnership, press one. To speak with a customer advocate, "
        "press two. For accounting and other receivables, press three."
    )
    cues = make_cues(transcript_of(speech(text, word_s=0.25)))
    assert cue_texts(cues) == [
        "To establish a sales partnership, press one.",
        "To speak with a customer advocate, press two.",
        "For accounting and other receivables, press three.",
    ]


def test_a_clause_end_is_preferred_to_a_plain_cut() -> None:
    text = (
        "If you know the extension of the party you wish to reach, dial it now or stay on "
        "the line for the company directory"
    )
    cues = make_cues(transcript_of(speech(text)))
    assert cue_texts(cues)[0].endswith("wish to reach,")


def test_a_pause_is_preferred_to_a_plain_cut() -> None:
    first = speech("press the pound key to hear the options for voicemail again now")
    second = speech("or hang up to leave the mailbox without saving", start=first[-1].end + 0.4)
    cues = make_cues(transcript_of(first + second))
    assert cue_texts(cues) == [
        "press the pound key to hear the options for voicemail again now",
        "or hang up to leave the mailbox without saving",
    ]


def test_without_punctuation_or_pauses_cues_are_balanced() -> None:
    text = " ".join(["word"] * 40)  # 199 characters: three cues of about 66 each
    cues = make_cues(transcript_of(speech(text, word_s=0.1, gap_s=0.0)))
    sizes = [len(" ".join(c.lines)) for c in cues]
    assert len(cues) == 3
    assert max(sizes) - min(sizes) <= 5


def test_a_long_pause_ends_a_cue_even_when_the_text_would_fit() -> None:
    words = speech("press one") + speech("for sales", start=1.4)
    cues = make_cues(transcript_of(words))
    assert cue_texts(cues) == ["press one", "for sales"]


def test_slow_speech_is_cut_at_the_maximum_duration() -> None:
    words = speech("please hold while I transfer your call to an agent", word_s=1.0, gap_s=0.2)
    cues = make_cues(transcript_of(words))
    assert len(cues) >= 2
    assert all(c.end - c.start <= RULES.max_duration for c in cues)


def test_a_word_longer_than_a_cue_allows_still_gets_its_own_cue() -> None:
    words = [*speech("now say"), Word(" aaaaah", 0.7, 10.2, 0.4), *speech("thanks", start=10.25)]
    cues = make_cues(transcript_of(words))
    assert cue_texts(cues) == ["now say", "aaaaah", "thanks"]
    assert cues[1].end - cues[1].start == pytest.approx(9.5)


def test_two_lines_break_after_punctuation_near_the_middle() -> None:
    text = "To record a new greeting, press two and wait for the tone"
    (cue,) = make_cues(transcript_of(speech(text)))
    assert cue.lines == ("To record a new greeting,", "press two and wait for the tone")


def test_two_lines_are_balanced_without_punctuation() -> None:
    text = "the person at extension four five six seven is not available right now"
    (cue,) = make_cues(transcript_of(speech(text)))
    assert len(cue.lines) == 2
    assert abs(len(cue.lines[0]) - len(cue.lines[1])) <= 8


def test_a_segment_without_words_falls_back_to_its_text_and_times() -> None:
    text = (
        " The party you are trying to reach is not available. Please leave a message after "
        "the tone, and press pound when you are finished."
    )
    segment = Segment(2.0, 10.0, text, (), "en", avg_logprob=math.log(0.8))
    transcript = Transcript((segment,), "en", 12.0, "segment-times-only")
    cues = make_cues(transcript)
    assert len(cues) >= 2
    assert cues[0].start == 2.0
    assert max(c.end for c in cues) >= 10.0 - EPS
    assert " ".join(" ".join(c.lines) for c in cues) == text.strip()
    assert cue_texts(cues)[0].endswith("not available.")
    assert all(w.confidence == pytest.approx(0.8) for c in cues for w in c.words)
    # Time is shared out by characters, spaces not counted.
    first = "The party you are trying to reach is not available."
    share = len(first.replace(" ", "")) / len(text.replace(" ", ""))
    assert cues[0].words[-1].end == pytest.approx(2.0 + 8.0 * share, abs=0.001)


def test_unspaced_text_without_words_keeps_the_line_length() -> None:
    text = "本日はお電話ありがとうございます。ただいま電話が大変込み合っております。" * 4
    transcript = Transcript((Segment(0.0, 20.0, text, (), "ja"),), "ja", 20.0, "ja")
    cues = make_cues(transcript)
    assert "".join("".join(c.lines) for c in cues) == text
    assert all(len(line) <= RULES.max_line_chars for c in cues for line in c.lines)


def test_a_word_longer_than_a_line_is_cut_into_line_sized_pieces() -> None:
    url = " https://example.com/" + "voicemail/" * 12  # 141 characters, one "word"
    words = [*speech("visit"), Word(url, 0.4, 6.0, 0.7)]
    cues = make_cues(transcript_of(words))
    lines = [line for c in cues for line in c.lines]
    assert all(len(line) <= RULES.max_line_chars for line in lines)
    assert re.sub(r"\s", "", "".join(lines)) == re.sub(r"\s", "", "visit" + url)
    assert_keeps_rules(cues, transcript_of(words), RULES, exact_words=False)


def test_cue_times_never_leave_the_audio() -> None:
    words = [Word(" late", 9.5, 11.0, 0.9), Word(" later", 12.0, 13.0, 0.9)]
    cues = make_cues(transcript_of(words, duration=10.0))
    assert all(0 <= c.start <= c.end <= 10.0 for c in cues)


def test_an_empty_transcript_has_no_cues() -> None:
    assert make_cues(Transcript((), None, 0.0, "none")) == []
    blank = Segment(0.0, 1.0, "   ", (Word(" ", 0.0, 1.0, 0.5),))
    assert make_cues(Transcript((blank,), None, 1.0, "blank")) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_line_chars", 0, "subtitle rules: max_line_chars must be at least 1, not 0"),
        ("max_lines", 0, "subtitle rules: max_lines must be at least 1, not 0"),
        ("min_duration", 8.0, "need 0 <= min_duration <= max_duration, not 8.0 and 7.0"),
        ("min_gap", -0.1, "subtitle rules: min_gap must not be negative, not -0.1"),
        ("pause_split", 0.0, "subtitle rules: pause_split must be positive, not 0.0"),
    ],
)
def test_impossible_rules_are_refused_in_one_line(field: str, value: float, message: str) -> None:
    with pytest.raises(VoxtuneError) as caught:
        SubtitleRules(**{field: value})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
