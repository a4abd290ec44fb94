"""Views of tune results, shared by ``voxtune finetune``, ``voxtune eval`` and the wizard.

Torch-free: the wizard's Result page draws the same word alignment the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from voxtune.engine.tune.events import WorstUtterance


@dataclass(frozen=True, slots=True)
class DiffPart:
    op: str  # jiwer's: "equal" | "substitute" | "delete" | "insert"
    reference: str  # the reference's words in this part ("" for an insertion)
    hypothesis: str  # the hypothesis's words ("" for a deletion)


def word_alignment(reference: str, hypothesis: str) -> list[DiffPart]:
    """The hypothesis aligned to the reference word by word, as jiwer counts WER."""
    import jiwer

    ref, hyp = reference.split(), hypothesis.split()
    if not ref:  # jiwer refuses an empty reference: every word heard is an insertion
        return [DiffPart("insert", "", " ".join(hyp))] if hyp else []
    output = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return [
        DiffPart(
            chunk.type,
            " ".join(ref[chunk.ref_start_idx : chunk.ref_end_idx]),
            " ".join(hyp[chunk.hyp_start_idx : chunk.hyp_end_idx]),
        )
        for chunk in output.alignments[0]
    ]


def word_diff(reference: str, hypothesis: str) -> str:
    """The hypothesis against the reference: ``[-missed-]`` and ``{+inserted+}`` words."""
    parts: list[str] = []
    for part in word_alignment(reference, hypothesis):
        if part.op == "equal":
            parts.append(part.reference)
            continue
        if part.reference:
            parts.append("[-" + part.reference + "-]")
        if part.hypothesis:
            parts.append("{+" + part.hypothesis + "+}")
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
