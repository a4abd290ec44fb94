"""WER through jiwer, after one normalisation applied to both sides.

The normalisation (the one ``../shared/data/README.md`` prescribes): Unicode NFKC, lower
case, every punctuation character (Unicode category P*) removed, whitespace collapsed.
Digits and spelling are left alone: "7" and "seven" differ, on purpose, so a model's house
style shows in its WER.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import jiwer

_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    return _SPACES.sub(" ", text).strip()


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER (errors over all reference words), normalised; 0.0 for no words at all."""
    refs = [normalize_text(r) for r in references]
    hyps = [normalize_text(h) for h in hypotheses]
    pairs = [(r, h) for r, h in zip(refs, hyps, strict=True) if r]
    if not pairs:
        return 0.0
    return float(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]))
