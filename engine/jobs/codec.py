"""JSON for the core types the job store keeps: options, subtitle rules and segments.

JSON floats round-trip exactly (``repr``), so a segment read back from the store is equal to
the one the model produced, and a resumed job writes the same output as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from voxtune.engine.subtitles.rules import SubtitleRules
from voxtune.engine.types import Segment, TranscriptionOptions, Word


def options_to_dict(options: TranscriptionOptions) -> dict[str, Any]:
    values = dataclasses.asdict(options)
    values["temperatures"] = list(options.temperatures)
    return values


def options_from_dict(values: dict[str, Any]) -> TranscriptionOptions:
    known = {f.name for f in dataclasses.fields(TranscriptionOptions)}
    # Keys a newer Voxtune added are dropped rather than refused: the job still runs.
    kept = {k: v for k, v in values.items() if k in known}
    if "temperatures" in kept:
        kept["temperatures"] = tuple(kept["temperatures"])
    return TranscriptionOptions(**kept)


def rules_to_dict(rules: SubtitleRules) -> dict[str, Any]:
    return dataclasses.asdict(rules)


def rules_from_dict(values: dict[str, Any]) -> SubtitleRules:
    known = {f.name for f in dataclasses.fields(SubtitleRules)}
    # As with options: a rule a newer Voxtune added is dropped, the job still runs.
    return SubtitleRules(**{k: v for k, v in values.items() if k in known})


def segment_to_json(segment: Segment) -> str:
    values = dataclasses.asdict(segment)
    values["words"] = [dataclasses.asdict(w) for w in segment.words]
    return json.dumps(values, ensure_ascii=False)


def segment_from_json(text: str) -> Segment:
    values = json.loads(text)
    words = tuple(Word(**w) for w in values.pop("words", ()))
    return Segment(words=words, **values)
