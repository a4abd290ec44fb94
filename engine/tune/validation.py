"""Check every row before training: all problems reported at once, with their rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voxtune.engine.audio import decode_audio
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.datasets import DataRow
from voxtune.engine.tune.events import BadRow

SAMPLE_RATE = 16000
MAX_SECONDS = 30.0  # Whisper's window: longer audio would be cut, and its text would not fit


@dataclass(frozen=True)
class CheckedRow:
    row: DataRow
    audio: np.ndarray  # 16 kHz mono float32, decoded once here and reused for features

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def check_rows(
    rows: list[DataRow],
    count_tokens: Callable[[str], int],
    max_tokens: int,
    language_problem: Callable[[str], str | None] | None = None,
) -> tuple[list[CheckedRow], list[BadRow]]:
    """Rows that can be trained on, and every row that cannot with its problem."""
    good, bad = [], []
    for row in rows:
        problem, audio = _problem(row, count_tokens, max_tokens, language_problem)
        if problem:
            bad.append(BadRow(row.where, problem))
        else:
            good.append(CheckedRow(row, audio))
    return good, bad


def _problem(
    row: DataRow,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    language_problem: Callable[[str], str | None] | None,
) -> tuple[str | None, np.ndarray]:
    empty = np.zeros(0, dtype=np.float32)
    if not str(row.audio) or str(row.audio) == ".":
        return "no audio path", empty
    if not row.audio.is_file():
        return f"audio {row.audio} not found", empty
    if row.problem:
        return row.problem, empty
    if not row.text:
        return "empty transcript", empty
    if row.language and language_problem and (problem := language_problem(row.language)):
        return problem, empty
    try:
        audio = decode_audio(row.audio)
    except VoxtuneError as exc:
        return f"audio cannot be decoded ({exc})", empty
    if len(audio) == 0:
        return "audio has no samples", empty
    seconds = len(audio) / SAMPLE_RATE
    if seconds > MAX_SECONDS:
        return f"audio too long ({seconds:.1f} s; the model takes at most 30 s)", empty
    tokens = count_tokens(row.text)
    if tokens > max_tokens:
        return f"transcript too long ({tokens} tokens; at most {max_tokens})", empty
    return None, audio


def bad_rows_error(source: str, bad: list[BadRow], shown: int = 3) -> VoxtuneError:
    """One line naming the first few bad rows (the CLI lists them all before this)."""
    listed = "; ".join(str(b) for b in bad[:shown])
    more = f" (and {len(bad) - shown} more)" if len(bad) > shown else ""
    return VoxtuneError(f"{source}: {len(bad)} bad rows: {listed}{more}")
