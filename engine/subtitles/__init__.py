"""Transcript outputs: subtitle cues (SRT, WebVTT), plain text and JSON.

``make_cues`` cuts a transcript into cues that keep common broadcast rules
(``SubtitleRules``); the ``to_*`` functions render one format to a string and
``write_outputs`` writes several at once, each file atomically.
"""

from voxtune.engine.subtitles.cues import make_cues
from voxtune.engine.subtitles.json_format import SCHEMA_VERSION, to_json, transcript_from_json
from voxtune.engine.subtitles.rules import DEFAULT_RULES, Cue, SubtitleRules
from voxtune.engine.subtitles.text_formats import cues_to_srt, cues_to_vtt, to_srt, to_txt, to_vtt
from voxtune.engine.subtitles.writer import FORMATS, checked_formats, write_outputs

__all__ = [
    "DEFAULT_RULES",
    "FORMATS",
    "SCHEMA_VERSION",
    "Cue",
    "SubtitleRules",
    "checked_formats",
    "cues_to_srt",
    "cues_to_vtt",
    "make_cues",
    "to_json",
    "to_srt",
    "to_txt",
    "to_vtt",
    "transcript_from_json",
    "write_outputs",
]
