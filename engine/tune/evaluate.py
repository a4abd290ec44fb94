"""Validation WER and the worst utterances, whatever family produced the hypotheses."""

from __future__ import annotations

from voxtune.engine.evaluation import normalize_text, word_error_rate
from voxtune.engine.tune.events import WorstUtterance
from voxtune.engine.tune.examples import Example


def score(
    examples: list[Example], hypotheses: list[str], worst: int
) -> tuple[float, tuple[WorstUtterance, ...]]:
    """Corpus WER and the ``worst`` utterances (normalised reference and hypothesis)."""
    wer = word_error_rate([e.text for e in examples], hypotheses)
    scored = [
        WorstUtterance(
            e.audio_name,
            normalize_text(e.text),
            normalize_text(h),
            word_error_rate([e.text], [h]),
            e.audio_path,
        )
        for e, h in zip(examples, hypotheses, strict=True)
    ]
    scored.sort(key=lambda w: -w.wer)
    return wer, tuple(w for w in scored[:worst] if w.wer > 0)
