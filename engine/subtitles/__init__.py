"""Transcript outputs: subtitle cues (SRT, WebVTT), plain text and JSON.

``make_cues`` cuts a transcript into cues that keep common broadcast rules
(``SubtitleRules``); the ``to_*`` functions render one format to a string and
``write_outputs`` writes several at once, each file atomically.

Exports load on first use: the protocol carries ``SubtitleRules`` (``.rules``), and importing
it must not load the writers.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "make_cues": "cues",
    "SCHEMA_VERSION": "json_format",
    "to_json": "json_format",
    "transcript_from_json": "json_format",
    "DEFAULT_RULES": "rules",
    "Cue": "rules",
    "SubtitleRules": "rules",
    "cues_to_srt": "text_formats",
    "cues_to_vtt": "text_formats",
    "to_srt": "text_formats",
    "to_txt": "text_formats",
    "to_vtt": "text_formats",
    "FORMATS": "writer",
    "checked_formats": "writer",
    "write_outputs": "writer",
}


def __getattr__(name: str) -> object:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_WHERE)
