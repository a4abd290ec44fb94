"""The rules a subtitle cue follows, and the cue itself."""

from __future__ import annotations

from dataclasses import dataclass

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.types import Word


@dataclass(frozen=True, slots=True)
class SubtitleRules:
    """Common broadcast limits; every field is a hard limit except where noted.

    ``min_duration`` is reached by extending a cue into the silence after it, so a cue
    followed at once by speech (or by the end of the audio) may stay shorter.
    ``max_duration`` gives way only for a single word that is itself longer.
    """

    max_line_chars: int = 42
    max_lines: int = 2
    min_duration: float = 1.0
    max_duration: float = 7.0
    min_gap: float = 0.0  # cues never overlap; optionally a small gap between them
    pause_split: float = 0.6  # a silence between words this long ends a cue

    def __post_init__(self) -> None:
        # These may come from a user's settings, so the message must be fit to show.
        if self.max_line_chars < 1:
            raise VoxtuneError(
                f"subtitle rules: max_line_chars must be at least 1, not {self.max_line_chars}"
            )
        if self.max_lines < 1:
            raise VoxtuneError(
                f"subtitle rules: max_lines must be at least 1, not {self.max_lines}"
            )
        if not 0 <= self.min_duration <= self.max_duration:
            raise VoxtuneError(
                "subtitle rules: need 0 <= min_duration <= max_duration, "
                f"not {self.min_duration} and {self.max_duration}"
            )
        if self.max_duration <= 0:
            raise VoxtuneError(
                f"subtitle rules: max_duration must be positive, not {self.max_duration}"
            )
        if self.min_gap < 0:
            raise VoxtuneError(f"subtitle rules: min_gap must not be negative, not {self.min_gap}")
        if self.pause_split <= 0:
            raise VoxtuneError(
                f"subtitle rules: pause_split must be positive, not {self.pause_split}"
            )


DEFAULT_RULES = SubtitleRules()


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle on screen: its time span, its lines, and the words it shows.

    ``words`` are the transcript's words with times clamped into the audio and made
    monotonic; a word longer than a line arrives split into line-sized pieces.
    """

    start: float
    end: float
    lines: tuple[str, ...]
    words: tuple[Word, ...]
