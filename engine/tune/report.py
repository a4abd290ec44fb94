"""Plain-text views of tune results, shared by ``voxtune finetune`` and ``voxtune eval``."""

from __future__ import annotations

import difflib

from voxtune.engine.tune.events import WorstUtterance


def word_diff(reference: str, hypothesis: str) -> str:
    """The hypothesis against the reference: ``[-missed-]`` and ``{+inserted+}`` words."""
    ref, hyp = reference.split(), hypothesis.split()
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
    for op, r1, r2, h1, h2 in matcher.get_opcodes():
        if op == "equal":
            parts.extend(ref[r1:r2])
            continue
        if r2 > r1:
            parts.append("[-" + " ".join(ref[r1:r2]) + "-]")
        if h2 > h1:
            parts.append("{+" + " ".join(hyp[h1:h2]) + "+}")
    return " ".join(parts)


def worst_lines(worst: tuple[WorstUtterance, ...], width: int = 200) -> list[str]:
    """Two lines an utterance: its WER and name, then its word diff (cut at ``width``)."""
    lines = []
    for item in worst:
        diff = word_diff(item.reference, item.hypothesis)
        lines.append(f"{100 * item.wer:5.0f}%  {item.audio}")
        lines.append(f"        {diff if len(diff) <= width else diff[: width - 1] + '…'}")
    return lines


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"
