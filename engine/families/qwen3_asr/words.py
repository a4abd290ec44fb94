"""Qwen3-ASR output tokens → language and scored words.

The model writes ``language English<asr_text>the words…`` (or only the words when the language
was forced in the prompt). Words keep their leading space, as ``Word`` asks; a word's
confidence is the geometric mean of its tokens' probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ASR_TEXT = "<asr_text>"


@dataclass(frozen=True)
class ScoredWord:
    text: str
    logprobs: tuple[float, ...]

    @property
    def confidence(self) -> float:
        return math.exp(sum(self.logprobs) / len(self.logprobs)) if self.logprobs else 0.0


@dataclass(frozen=True)
class ParsedOutput:
    language_name: str | None  # "English", as the model wrote it; None when it wrote none
    language_logprob: float
    words: tuple[ScoredWord, ...]

    @property
    def text(self) -> str:
        return "".join(w.text for w in self.words)

    @property
    def avg_logprob(self) -> float:
        logprobs = [p for w in self.words for p in w.logprobs]
        return sum(logprobs) / len(logprobs) if logprobs else 0.0


_CJK_RANGES = (("\u3040", "\u30ff"), ("\u3400", "\u9fff"), ("\uac00", "\ud7af"))


def is_cjk(char: str) -> bool:
    return (
        "\u3040" <= char <= "\u30ff" or "\u3400" <= char <= "\u9fff" or "\uac00" <= char <= "\ud7af"
    )


def parse_output(
    tokenizer,  # type: ignore[no-untyped-def]
    ids: Sequence[int],
    logprobs: Sequence[float],
    language_forced: bool,
) -> ParsedOutput:
    """Split generated ``ids`` (without the prompt, stopped at end of text) into words."""
    marker = tokenizer.convert_tokens_to_ids(ASR_TEXT)
    special = set(tokenizer.all_special_ids)
    language_name, language_logprob = None, 0.0
    start = 0
    if not language_forced and marker in ids:
        start = list(ids).index(marker) + 1
        header = tokenizer.decode(list(ids[: start - 1]), skip_special_tokens=True).strip()
        if header.lower().startswith("language "):
            name = header[len("language ") :].strip()
            language_name = None if name.lower() == "none" else name or None
            language_logprob = sum(logprobs[: start - 1])
    words: list[ScoredWord] = []
    text_ids: list[int] = []
    decoded = ""
    for token, logprob in zip(ids[start:], logprobs[start:], strict=True):
        if token in special or token == marker:
            continue
        text_ids.append(token)
        # Decoding the growing prefix keeps multi-byte characters split across tokens whole.
        full = tokenizer.decode(text_ids)
        piece, decoded = full[len(decoded) :], full
        if not piece:
            if words:
                words[-1] = ScoredWord(words[-1].text, (*words[-1].logprobs, logprob))
            continue
        starts_word = not words or piece[0].isspace() or is_cjk(piece[0])
        if starts_word:
            words.append(ScoredWord(piece, (logprob,)))
        else:
            words[-1] = ScoredWord(words[-1].text + piece, (*words[-1].logprobs, logprob))
    return ParsedOutput(language_name, language_logprob, tuple(w for w in words if w.text.strip()))
