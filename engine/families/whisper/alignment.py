"""Word timing and confidence from one teacher-forced decoder pass.

Whisper checkpoints name a few cross-attention heads (the alignment heads) whose weights
follow the audio; dynamic time warping over their attention gives each token a time
(the method of openai-whisper's ``timing.py``). The same pass yields each token's
probability, from which a word's confidence is computed, so beam search or sampling during
generation never changes how confidences are measured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from voxtune.engine.families.whisper.tokens import NO_SPACE_LANGUAGES, SpecialTokens
from voxtune.engine.types import Word
from voxtune.kernels.backtrace import dtw_backtrace
from voxtune.kernels.runtime import alignment_kernels_on, kernel_module

MAX_DTW_TOKENS = 1023  # as voxtune.kernels.alignment.MAX_TOKENS (importing it loads triton)

if TYPE_CHECKING:
    from voxtune.engine.families.whisper.runner import WhisperRunner

SECONDS_PER_FRAME = 0.02  # one encoder position
MEDIAN_FILTER_WIDTH = 7
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"


@dataclass(frozen=True)
class TokenPass:
    """What one teacher-forced pass says about a window's text tokens."""

    token_logprobs: np.ndarray  # log p of each text token, then of <|endoftext|>
    no_speech_prob: float
    token_times: np.ndarray | None  # (n_tokens + 1, 2) start/end seconds, window-relative

    @property
    def avg_logprob(self) -> float:
        return float(self.token_logprobs.mean()) if self.token_logprobs.size else 0.0


@contextmanager
def record_cross_attention(model, heads: Sequence[tuple[int, int]]):  # type: ignore[no-untyped-def]
    """Capture q and k of the alignment layers' cross-attention with forward hooks.

    Hooks on the projections work whatever attention kernel (eager, SDPA) the model runs,
    and only the few alignment heads are ever materialised.
    """
    layers = model.model.decoder.layers
    captured: dict[tuple[int, str], torch.Tensor] = {}
    handles = []
    for layer in sorted({layer for layer, _ in heads}):
        attention = layers[layer].encoder_attn
        for name in ("q_proj", "k_proj"):

            def hook(_module, _inputs, output, key=(layer, name)):  # type: ignore[no-untyped-def]
                captured[key] = output.detach()

            handles.append(getattr(attention, name).register_forward_hook(hook))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def _alignment_weights(scores: torch.Tensor, frames: Sequence[int]) -> list[torch.Tensor]:
    """Per batch item: the (tokens x frames) attention of the alignment heads, normalised.

    ``scores``: raw cross-attention scores [batch, heads, tokens, all frames]; each item's
    softmax runs over its own content frames only (the rest of the window is padding).
    """
    result = []
    for i, n_frames in enumerate(frames):
        stacked = scores[i, :, :, :n_frames].float().softmax(dim=-1)  # heads x tokens x frames
        std, mean = torch.std_mean(stacked, dim=-2, keepdim=True, unbiased=False)
        stacked = _median_filter((stacked - mean) / (std + 1e-9), MEDIAN_FILTER_WIDTH)
        result.append(stacked.mean(dim=0))
    return result


def _median_filter(x: torch.Tensor, width: int) -> torch.Tensor:
    if alignment_kernels_on(x):
        return kernel_module("alignment").median_filter(x, width)
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    padded = torch.nn.functional.pad(x, (pad, pad), mode="reflect")
    return padded.unfold(-1, width, 1).median(dim=-1).values


def dtw(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monotonic alignment path through ``cost`` (rows: tokens, columns: frames).

    Cells on one anti-diagonal depend only on the two before it, so each diagonal is
    computed as one vector operation: O(rows + columns) Python steps, not rows x columns.
    """
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    # 0: diagonal step, 1: from the row above (next token, same frame), 2: from the left.
    trace = np.zeros((n + 1, m + 1), dtype=np.int8)
    for diagonal in range(2, n + m + 1):
        i = np.arange(max(1, diagonal - m), min(n, diagonal - 1) + 1)
        j = diagonal - i
        options = np.stack([acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]])
        choice = options.argmin(axis=0)
        acc[i, j] = cost[i - 1, j - 1] + options[choice, np.arange(len(i))]
        trace[i, j] = choice
    return dtw_backtrace(lambda i, j: trace[i, j], n, m)


def token_pass(
    runner: WhisperRunner,
    encoder_states: torch.Tensor,
    sot_sequences: Sequence[list[int]],
    text_tokens: Sequence[list[int]],
    special: SpecialTokens,
    alignment_heads: Sequence[tuple[int, int]] | None,
    content_frames: Sequence[int],
) -> list[TokenPass]:
    """One batched teacher-forced pass: token log-probs, no-speech prob and token times."""
    inputs = [
        [*sot, special.no_timestamps, *tokens, special.eot]
        for sot, tokens in zip(sot_sequences, text_tokens, strict=True)
    ]
    width = max(len(x) for x in inputs)
    ids = torch.full((len(inputs), width), special.eot, dtype=torch.long)
    for row, x in enumerate(inputs):
        ids[row, : len(x)] = torch.tensor(x)
    ids = ids.to(encoder_states.device)
    heads = list(alignment_heads or [])
    logits, scores = runner.teacher_forced(ids, encoder_states, heads)
    logprobs = torch.log_softmax(logits, dim=-1)
    frames = [max(1, min(f // 2, encoder_states.shape[1])) for f in content_frames]
    weights = _alignment_weights(scores, frames) if scores is not None else None
    results = []
    for row, (sot, tokens) in enumerate(zip(sot_sequences, text_tokens, strict=True)):
        first = len(sot)  # position of <|notimestamps|>: it predicts the first text token
        targets = [*tokens, special.eot]
        positions = torch.arange(first, first + len(targets), device=logprobs.device)
        token_lp = logprobs[row, positions, torch.tensor(targets, device=logprobs.device)]
        no_speech = 0.0
        if special.no_speech is not None:
            no_speech = float(logprobs[row, 0, special.no_speech].exp())
        times = None
        if weights is not None and tokens:
            matrix = weights[row][first : first + len(targets)]
            if alignment_kernels_on(matrix) and len(targets) <= MAX_DTW_TOKENS:
                rows, cols = kernel_module("alignment").dtw(-matrix.double())
            else:
                rows, cols = dtw(-matrix.double().cpu().numpy())
            jumps = np.pad(np.diff(rows), (1, 0), constant_values=1).astype(bool)
            jump_times = cols[jumps] * SECONDS_PER_FRAME
            # jump_times[k] is when token k starts; a token ends when the next one starts.
            starts = jump_times[: len(targets)]
            ends = np.append(jump_times[1 : len(targets)], frames[row] * SECONDS_PER_FRAME)
            times = np.stack([starts, ends[: len(starts)]], axis=1)
        results.append(TokenPass(token_lp.cpu().numpy(), no_speech, times))
    return results


@dataclass(frozen=True)
class WordSpan:
    """A word as a run of tokens, before it is placed in time."""

    text: str
    tokens: list[int]
    token_indices: list[int]  # positions in the window's text token list


def split_words(tokens: Sequence[int], decode, language: str | None) -> list[WordSpan]:  # type: ignore[no-untyped-def]
    """Group text tokens into words, keeping multi-byte characters whole."""
    units: list[WordSpan] = []
    current: list[int] = []
    current_idx: list[int] = []
    full = decode(list(tokens))
    offset = 0
    for index, token in enumerate(tokens):
        current.append(token)
        current_idx.append(index)
        text = decode(current)
        # A byte-level token may end mid-character; wait until the character is complete.
        if "\ufffd" not in text or full[offset + text.index("\ufffd")] == "\ufffd":
            units.append(WordSpan(text, current, current_idx))
            offset += len(text)
            current, current_idx = [], []
    if language not in NO_SPACE_LANGUAGES:
        units = _join_subwords(units)
    return _merge_punctuation(units)


def _concat(a: WordSpan, b: WordSpan) -> WordSpan:
    return WordSpan(a.text + b.text, a.tokens + b.tokens, a.token_indices + b.token_indices)


def _join_subwords(units: list[WordSpan]) -> list[WordSpan]:
    """A word starts at a leading space; punctuation stands alone until merged below."""
    words: list[WordSpan] = []
    for unit in units:
        if not words or unit.text.startswith(" ") or _is_punctuation(unit.text.strip()):
            words.append(unit)
        else:
            words[-1] = _concat(words[-1], unit)
    return words


def _is_punctuation(text: str) -> bool:
    return bool(text) and all(c in PREPEND_PUNCTUATION + APPEND_PUNCTUATION for c in text)


def _merge_punctuation(words: list[WordSpan]) -> list[WordSpan]:
    """Closing punctuation joins the previous word, opening punctuation the next one.

    Text is never moved across a space, so the words still join into the segment's text.
    """
    merged: list[WordSpan] = []
    pending: WordSpan | None = None  # an opening mark waiting for its word
    for word in words:
        if pending is not None:
            if word.text.startswith(" "):
                merged.append(pending)  # "( hello": the mark stands alone
            else:
                word = _concat(pending, word)
            pending = None
        stripped = word.text.strip()
        glued = bool(merged) and not word.text.startswith(" ")
        closes = bool(stripped) and all(c in APPEND_PUNCTUATION for c in stripped)
        if glued and (closes or _opens(word)):
            merged[-1] = _concat(merged[-1], word)
        elif _opens(word):
            pending = word
        else:
            merged.append(word)
    if pending is not None:
        merged.append(pending)
    return merged


def _opens(word: WordSpan) -> bool:
    stripped = word.text.strip()
    return bool(stripped) and all(c in PREPEND_PUNCTUATION for c in stripped)


def word_confidence(logprobs: np.ndarray) -> float:
    """Geometric mean of the token probabilities: a word is as sure as its tokens together."""
    if logprobs.size == 0:
        return 0.0
    return float(min(1.0, max(0.0, math.exp(float(np.mean(logprobs))))))


SENTENCE_END = ".。!！?？"


def trim_long_boundary_words(words: list[Word]) -> list[Word]:
    """Keep the words at the edges of a segment from swallowing the silence around them.

    DTW stretches the first and last word of a segment, and words beside a full stop, over
    any pause there (the end-of-text token has no sound to align with). Like openai-whisper,
    such a word may last at most twice the median word of the segment (itself capped at
    0.7 s); inner words are left as aligned.
    """
    durations = [w.end - w.start for w in words if w.end > w.start]
    if not durations:
        return words
    longest = 2 * min(0.7, float(np.median(durations)))
    trimmed = list(words)
    for i, word in enumerate(trimmed):
        if word.end - word.start <= longest:
            continue
        ends_sentence = word.text.strip()[-1:] in SENTENCE_END
        after_sentence = i > 0 and trimmed[i - 1].text.strip()[-1:] in SENTENCE_END
        if i == len(trimmed) - 1 or ends_sentence:
            trimmed[i] = replace(word, end=round(word.start + longest, 3))
        elif i == 0 or after_sentence:
            trimmed[i] = replace(word, start=round(word.end - longest, 3))
    return trimmed


def timed_word(
    text: str, indices: list[int], scored: TokenPass, offset: float, window: float, floor: float
) -> tuple[Word, float]:
    """The word made of the window's tokens at ``indices``, and where it ends in the window.

    It starts no earlier than ``floor`` (where the previous word ended) and ends inside the
    window; without alignment times it is placed at ``floor``.
    """
    if scored.token_times is not None:
        start = float(scored.token_times[indices[0], 0])
        end = float(scored.token_times[indices[-1], 1])
    else:
        start = end = floor
    start = min(max(start, floor), window)
    end = min(max(end, start), window)
    word = Word(
        text=text,
        start=round(offset + start, 3),
        end=round(offset + end, 3),
        confidence=round(word_confidence(scored.token_logprobs[indices]), 4),
    )
    return word, end
