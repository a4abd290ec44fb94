"""SubRip (SRT), WebVTT and plain-text renderings of a transcript."""

from __future__ import annotations

from collections.abc import Sequence

from voxtune.engine.subtitles.cues import make_cues
from voxtune.engine.subtitles.rules import DEFAULT_RULES, Cue, SubtitleRules
from voxtune.engine.subtitles.words import display_text
from voxtune.engine.types import Transcript


def timestamp(seconds: float, decimal_mark: str) -> str:
    """``HH:MM:SS,mmm`` (SRT) or ``HH:MM:SS.mmm`` (WebVTT)."""
    total_ms = max(round(seconds * 1000), 0)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_mark}{millis:03d}"


def cues_to_srt(cues: Sequence[Cue]) -> str:
    blocks = [
        f"{index}\n{timestamp(c.start, ',')} --> {timestamp(c.end, ',')}\n" + "\n".join(c.lines)
        for index, c in enumerate(cues, start=1)
    ]
    return "".join(f"{block}\n\n" for block in blocks)


def cues_to_vtt(cues: Sequence[Cue]) -> str:
    blocks = [
        f"{timestamp(c.start, '.')} --> {timestamp(c.end, '.')}\n"
        + "\n".join(_vtt_escape(line) for line in c.lines)
        for c in cues
    ]
    return "WEBVTT\n\n" + "".join(f"{block}\n\n" for block in blocks)


def to_srt(transcript: Transcript, rules: SubtitleRules = DEFAULT_RULES) -> str:
    return cues_to_srt(make_cues(transcript, rules))


def to_vtt(transcript: Transcript, rules: SubtitleRules = DEFAULT_RULES) -> str:
    return cues_to_vtt(make_cues(transcript, rules))


def to_txt(transcript: Transcript) -> str:
    """One segment a line, whitespace tidied; empty segments left out."""
    lines = [display_text(s.text).strip() for s in transcript.segments]
    return "".join(f"{line}\n" for line in lines if line)


def _vtt_escape(line: str) -> str:
    # WebVTT cue text is markup: a bare "<" opens a tag and "-->" would end the cue.
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
