"""The whole transcript as JSON, and back (schema: docs/transcript-json.md).

Times are rounded to milliseconds; every other number is written as it is, so reading a
file back gives the transcript that was written, to the millisecond. Numbers JSON cannot
hold (NaN, infinities: an avg_logprob of -inf is possible) are written as null and read
back as NaN.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.types import Segment, Transcript, Word

FORMAT_NAME = "voxtune-transcript"
SCHEMA_VERSION = 1


def to_json(transcript: Transcript) -> str:
    document = {
        "format": FORMAT_NAME,
        "version": SCHEMA_VERSION,
        "model": transcript.model,
        "language": transcript.language,
        "duration": _time(transcript.duration),
        "segments": [_segment_dict(i, s) for i, s in enumerate(transcript.segments)],
    }
    return json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def transcript_from_json(text: str, source: str = "transcript JSON") -> Transcript:
    """The transcript a ``to_json`` document holds; ``source`` names it in error messages.

    Raises VoxtuneError (one line: source, then the problem) for anything else.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VoxtuneError(f"{source}: not valid JSON ({exc})") from exc
    reader = _Reader(source)
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise VoxtuneError(f'{source}: not a Voxtune transcript (no "format": "{FORMAT_NAME}")')
    version = document.get("version")
    if version != SCHEMA_VERSION:
        raise VoxtuneError(
            f"{source}: transcript version {version!r} is not supported "
            f"(this Voxtune reads version {SCHEMA_VERSION})"
        )
    segments = reader.field(document, "segments", list, "")
    return Transcript(
        segments=tuple(reader.segment(s, f"segment {i}") for i, s in enumerate(segments)),
        language=reader.field(document, "language", (str, type(None)), ""),
        duration=reader.number(document, "duration", ""),
        model=reader.field(document, "model", str, ""),
    )


def _segment_dict(index: int, segment: Segment) -> dict[str, Any]:
    return {
        "id": index,
        "start": _time(segment.start),
        "end": _time(segment.end),
        "text": segment.text,
        "language": segment.language,
        "avg_logprob": _number(segment.avg_logprob),
        "no_speech_prob": _number(segment.no_speech_prob),
        "compression_ratio": _number(segment.compression_ratio),
        "temperature": _number(segment.temperature),
        # Models without a word aligner time whole segments (VAD chunks); say so.
        "timing": "word" if segment.words else "segment",
        "words": [
            {
                "text": w.text,
                "start": _time(w.start),
                "end": _time(w.end),
                "confidence": _number(w.confidence),
            }
            for w in segment.words
        ],
    }


def _time(seconds: float) -> float | None:
    return round(seconds, 3) if math.isfinite(seconds) else None


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


class _Reader:
    """Typed access to a parsed document, with errors that say where the problem is."""

    def __init__(self, source: str) -> None:
        self.source = source

    def segment(self, data: object, where: str) -> Segment:
        if not isinstance(data, dict):
            self.fail(where, "must be an object")
        words = self.field(data, "words", list, where, default=[])
        optional = {
            name: self.number(data, name, where, default=0.0)
            for name in ("avg_logprob", "no_speech_prob", "compression_ratio", "temperature")
        }
        return Segment(
            start=self.number(data, "start", where),
            end=self.number(data, "end", where),
            text=self.field(data, "text", str, where),
            words=tuple(self.word(w, f"{where} word {i}") for i, w in enumerate(words)),
            language=self.field(data, "language", (str, type(None)), where, default=None),
            **optional,
        )

    def word(self, data: object, where: str) -> Word:
        if not isinstance(data, dict):
            self.fail(where, "must be an object")
        return Word(
            text=self.field(data, "text", str, where),
            start=self.number(data, "start", where),
            end=self.number(data, "end", where),
            confidence=self.number(data, "confidence", where),
        )

    def number(self, data: dict, name: str, where: str, default: Any = ...) -> float:
        value = self.field(data, name, (int, float, type(None)), where, default)
        if isinstance(value, bool):
            self.fail(where, f'"{name}" must be a number')
        return math.nan if value is None else float(value)

    def field(
        self,
        data: dict,
        name: str,
        kind: type | tuple[type, ...],
        where: str,
        default: Any = ...,
    ) -> Any:
        if name not in data:
            if default is ...:
                self.fail(where, f'"{name}" is missing')
            return default
        value = data[name]
        if not isinstance(value, kind):
            expected = _names(kind if isinstance(kind, tuple) else (kind,))
            self.fail(where, f'"{name}" must be {expected}, not {_names((type(value),))}')
        return value

    def fail(self, where: str, problem: str) -> NoReturn:
        place = f"{self.source}: {where}" if where else self.source
        raise VoxtuneError(f"{place}: {problem}")


def _names(kinds: tuple[type, ...]) -> str:
    names = {
        "int": "a number",
        "float": "a number",
        "bool": "true/false",
        "NoneType": "null",
        "str": "text",
        "list": "a list",
        "dict": "an object",
    }
    return " or ".join(dict.fromkeys(names.get(k.__name__, k.__name__) for k in kinds))
