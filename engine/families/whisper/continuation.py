"""Decode a live buffer onward from text that is already fixed, paying only for what is new.

Each step of a live session decodes a buffer whose start is already settled: committed words
(the *prefix*), and a guess at the rest from the step before (the *draft*). Re-generating
them token by token would cost ~16.5 ms a token on a laptop CPU, every step. Instead:

* the encoder runs once on the full 30 s window (slicing it breaks Whisper: FACTS.md);
* the prompt (committed text before the buffer), the start sequence, the prefix and the
  draft go through the decoder in **one** forward pass; the draft's tokens are kept as far
  as the model's own greedy choice agrees with them (speculative decoding, with last step's
  hypothesis as the draft model);
* only then does it search, token by token (beam search or greedy), from where the
  agreement ended;
* one teacher-forced pass over prefix and continuation (the transcriber's ``token_pass``)
  gives every word its time (cross-attention DTW) and its confidence.

It decodes in timestamp mode, as offline Whisper does (the model writes better text so):
the prefix opens a segment at ``<|0.00|>``, and a word's draft tokens carry the timestamps
written before it. Word times still come from the alignment pass. (A whole utterance
decoded in one step reads word for word as the offline decoder writes it: a test checks.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch

from voxtune.engine.families.whisper.alignment import (
    WordSpan,
    split_words,
    timed_word,
    token_pass,
)
from voxtune.engine.families.whisper.window import WindowDecoder
from voxtune.engine.models import LoadedModel
from voxtune.engine.stream.decoders import Hypothesis
from voxtune.engine.types import TranscriptionOptions, Word

SAMPLE_RATE = 16000
SAMPLES_PER_FRAME = 160  # log-mel hop: one feature frame
MAX_PROMPT_TOKENS = 128
# Speech runs at ~3-4 tokens a second; more than this is a decoder stuck in a loop.
MAX_TOKENS_PER_SECOND = 8
MIN_TOKEN_ALLOWANCE = 8


class ContinuationDecoder:
    """Decodes a live buffer onward from its prefix. It runs with the process's torch
    thread count (``voxtune.engine.torch_threads``): a session never changes it, since the
    count is process-wide and jobs may be decoding beside it."""

    def __init__(self, loaded: LoadedModel, options: TranscriptionOptions) -> None:
        self.options = options
        self.window = WindowDecoder(loaded)
        self.runner = self.window.runner
        self.special = self.window.special
        self.tokenizer = self.window.tokenizer
        self.language = options.language
        self.rules = self.window.decoding.rules

    def decode(
        self,
        audio: np.ndarray,
        offset: float,
        *,
        prompt: Sequence[int] = (),
        prefix: Sequence[int] = (),
        draft: Sequence[int] = (),
    ) -> Hypothesis:
        began = time.perf_counter()
        states = self.window.encode([audio])
        if self.special.multilingual and self.language is None:
            self.language = self.window.detect_language(states)[0][0]
        start = self.special.sot_sequence(self.language, self.options.task)
        prompt, prefix = self._text(prompt), self._text(prefix)
        # Timestamp mode, as offline: without timestamps Whisper writes worse text (measured
        # on the English FLEURS files, beam 5: 8.7% WER against 5.8% with them). The buffer
        # starts at a committed word's end, so the prefix opens a segment at 0.00.
        written = [self.special.timestamp_begin, *prefix] if prefix else []
        context = [*start, *written]
        if prompt and self.special.sot_prev is not None:
            context = [self.special.sot_prev, *prompt[-MAX_PROMPT_TOKENS:], *context]
        allowance = int(len(audio) / SAMPLE_RATE * MAX_TOKENS_PER_SECOND) + MIN_TOKEN_ALLOWANCE
        # The decoder has a fixed number of positions; the end-of-text needs one too.
        positions = self.runner.config.max_target_positions
        draft = list(draft)[: max(0, positions - len(context) - 1)]
        allowance = max(0, min(allowance, positions - len(context) - 1))
        new, accepted = self._continue(states, context, written, draft, limit=allowance)
        words, word_tokens, no_speech = self._words(states, start, prefix, new, audio, offset)
        generated = len(new) - accepted
        if self._is_silence(no_speech, words):
            words, word_tokens = (), ()
        return Hypothesis(
            words, word_tokens, no_speech, accepted, generated, time.perf_counter() - began
        )

    def _text(self, tokens: Sequence[int]) -> list[int]:
        return [t for t in tokens if self.special.is_text(t)]

    # -- generation -------------------------------------------------------------------------
    def _masked(self, logits: torch.Tensor, written: list[int]) -> torch.Tensor:
        """One position's logits (1 x vocab) under Whisper's token rules."""
        return self.rules.apply(logits.float().clone(), [written])

    @torch.inference_mode()
    def _continue(
        self,
        states: torch.Tensor,
        context: list[int],
        written: list[int],
        draft: list[int],
        limit: int,
    ) -> tuple[list[int], int]:
        """(tokens after the context, how many of them came from the draft). ``written``:
        what the context holds after the start sequence, which the token rules look at."""
        runner = self.runner
        ids = torch.tensor([[*context, *draft]], device=states.device)
        logits, cache = runner.decode(ids, states, None, logits_from=len(context) - 1)
        logits = logits[0]
        accepted = self._agreed(logits, written, draft)
        # Forget what the model did not agree with.
        cache = runner.crop(cache, len(draft) - accepted)
        tokens = draft[:accepted]
        scores = self._masked(logits[accepted : accepted + 1], [*written, *tokens])
        if self.options.beam_size > 1:
            logprobs = torch.log_softmax(scores, dim=-1)
            found = self._beam(states, cache, [*written, *tokens], logprobs, limit - accepted)
            return tokens + found, accepted
        token = int(scores.argmax())
        while token != self.special.eot and len(tokens) < limit:
            tokens.append(token)
            step = torch.tensor([[token]], device=states.device)
            logits, cache = runner.decode(step, states, cache)
            token = int(self._masked(logits[0, -1:], [*written, *tokens]).argmax())
        return tokens, accepted

    def _agreed(self, logits: torch.Tensor, written: list[int], draft: list[int]) -> int:
        """How many draft tokens the model writes itself (its greedy choice). Under beam
        search too: stopping the draft where the model is unsure, to let the beam search
        there, measured no better (6.9% committed WER against 6.5%) and cost more tokens."""
        for index, token in enumerate(draft):
            scores = self._masked(logits[index : index + 1], [*written, *draft[:index]])
            if int(scores.argmax()) != token:
                return index
        return len(draft)

    def _beam(
        self,
        states: torch.Tensor,
        cache,  # type: ignore[no-untyped-def]
        written: list[int],
        logprobs: torch.Tensor,
        limit: int,
    ) -> list[int]:
        """Beam search onward from the cache (as openai-whisper ranks: log-prob / length)."""
        size, eot = self.options.beam_size, self.special.eot
        beams: list[tuple[list[int], float]] = [([], 0.0)]
        finished: list[tuple[list[int], float]] = []
        for _ in range(max(1, limit)):
            candidates = []
            for row, (_, score) in enumerate(beams):
                top = logprobs[row].topk(size + 1)
                for value, token in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                    if value > -math.inf:
                        candidates.append((score + value, row, token))
            candidates.sort(key=lambda c: c[0], reverse=True)
            kept: list[tuple[list[int], float]] = []
            rows: list[int] = []
            for score, row, token in candidates:
                if len(kept) == size:
                    break  # an end ranked below every kept beam is not worth finishing
                if token == eot:
                    finished.append((beams[row][0], score))
                else:
                    kept.append(([*beams[row][0], token], score))
                    rows.append(row)
            if len(finished) >= size or not kept:
                break
            beams = kept
            # Only the beams' own histories move; what they attend to in the audio is the
            # same for all, so the cross-attention cache is only ever resized, never shuffled.
            cache = self.runner.reorder(cache, rows)
            step = torch.tensor([[tokens[-1]] for tokens, _ in beams], device=states.device)
            logits, cache = self.runner.decode(step, states.expand(len(beams), -1, -1), cache)
            logits = logits[:, -1]
            masked = self.rules.apply(logits, [[*written, *tokens] for tokens, _ in beams])
            logprobs = torch.log_softmax(masked, dim=-1)
        ranked = finished or beams
        best, _ = max(ranked, key=lambda b: b[1] / max(1, len(b[0]) + 1))
        return best

    # -- words --------------------------------------------------------------------------------
    def _words(
        self,
        states: torch.Tensor,
        start: list[int],
        prefix: list[int],
        new: list[int],
        audio: np.ndarray,
        offset: float,
    ) -> tuple[tuple[Word, ...], tuple[tuple[int, ...], ...], float]:
        """Words of ``new`` (timed in the context of the prefix), their tokens, no-speech p.

        A word's tokens include the timestamps the model wrote just before it, so that next
        step's draft (these tokens) is what the model would write itself."""
        text_new: list[int] = []
        stamps_before: dict[int, list[int]] = {}  # text token index in ``tokens`` -> stamps
        for token in new:
            if self.special.is_text(token):
                text_new.append(token)
            else:
                stamps_before.setdefault(len(prefix) + len(text_new), []).append(token)
        tokens = prefix + text_new
        frames = min(len(audio), 30 * SAMPLE_RATE) // SAMPLES_PER_FRAME
        [scored] = token_pass(
            self.runner, states, [start], [tokens], self.special,
            self.window.alignment_heads, [frames],
        )  # fmt: skip
        if not text_new:
            return (), (), scored.no_speech_prob
        spans = split_words(tokens, self.window.decode_text, self.language)
        window = len(audio) / SAMPLE_RATE
        words: list[Word] = []
        word_tokens: list[tuple[int, ...]] = []
        previous_end = 0.0
        for span in spans:
            indices = [i for i in span.token_indices if i >= len(prefix)]
            if not indices:
                continue  # a committed word
            if len(indices) < len(span.token_indices):  # the model went on with a prefix word
                span = WordSpan(
                    self.window.decode_text([tokens[i] for i in indices]),
                    [tokens[i] for i in indices],
                    indices,
                )
            word, previous_end = timed_word(
                span.text, span.token_indices, scored, offset, window, previous_end
            )
            words.append(word)
            word_tokens.append(
                tuple(t for i in indices for t in (*stamps_before.get(i, ()), tokens[i]))
            )
        if words and not words[0].text.strip():
            words, word_tokens = words[1:], word_tokens[1:]
        return tuple(words), tuple(word_tokens), scored.no_speech_prob

    def _is_silence(self, no_speech: float, words: tuple[Word, ...]) -> bool:
        threshold = self.options.no_speech_threshold
        if threshold is None or no_speech <= threshold or not words:
            return False
        mean = float(np.mean([np.log(max(w.confidence, 1e-6)) for w in words]))
        limit = self.options.log_prob_threshold
        return limit is None or mean < limit
