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

No timestamp tokens: word times come from the alignment pass, and without them the draft
and the prefix are plain text. (A whole file decoded this way gives the same words as the
offline decoder with timestamps, checked on the English FLEURS files.)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from voxtune.engine.models import LoadedModel
from voxtune.engine.stream.threads import FastestThreadCount, torch_threads
from voxtune.engine.transcribe import WindowDecoder
from voxtune.engine.transcribe.alignment import (
    WordSpan,
    split_words,
    timed_word,
    token_pass,
)
from voxtune.engine.types import TranscriptionOptions, Word

SAMPLE_RATE = 16000
SAMPLES_PER_FRAME = 160  # log-mel hop: one feature frame
MAX_PROMPT_TOKENS = 128
# Speech runs at ~3-4 tokens a second; more than this is a decoder stuck in a loop.
MAX_TOKENS_PER_SECOND = 8
MIN_TOKEN_ALLOWANCE = 8


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """What the model hears in the buffer after the prefix."""

    words: tuple[Word, ...]  # absolute times
    word_tokens: tuple[tuple[int, ...], ...]  # each word's token ids
    no_speech_prob: float
    draft_accepted: int  # draft tokens the model agreed with (paid in the one pass)
    generated: int  # tokens generated one at a time
    seconds: float  # wall time of the decode

    @property
    def tokens(self) -> list[int]:
        return [t for word in self.word_tokens for t in word]


class ContinuationDecoder:
    """``token_threads``: intra-op threads for the token-sized passes. Their matrices are
    small; a second thread buys little there and, on a busy CPU, costs several times over
    in synchronisation (measured: a step 2 s with one thread, 7-19 s with two). The
    encoder's large matrices do gain from more threads when the CPU is free: it runs with
    whichever count has been fastest lately."""

    def __init__(
        self, loaded: LoadedModel, options: TranscriptionOptions, token_threads: int | None = 1
    ) -> None:
        self.options = options
        self.token_threads = token_threads
        self.encoder_threads = FastestThreadCount()
        self.window = WindowDecoder(loaded)
        self.model = loaded.model
        self.special = self.window.special
        self.tokenizer = self.window.tokenizer
        self.language = options.language
        config = self.model.generation_config
        vocabulary = self.model.config.vocab_size
        # Only text and end-of-text may be written: no timestamps, no other special tokens.
        suppressed = torch.zeros(vocabulary, dtype=torch.bool)
        suppressed[self.special.eot + 1 :] = True
        suppressed[[t for t in (config.suppress_tokens or []) if t < vocabulary]] = True
        self._suppressed = suppressed
        self._suppressed_first = suppressed.clone()  # nothing at all is no transcript
        self._suppressed_first[[t for t in (config.begin_suppress_tokens or [])]] = True

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
        states = self.encoder_threads.run(lambda: self.window.encode([audio]))
        if self.special.multilingual and self.language is None:
            self.language = self.window.detect_language(states)[0][0]
        start = self.special.sot_sequence(self.language, self.options.task)
        context = [*start, self.special.no_timestamps, *prefix]
        if prompt and self.special.sot_prev is not None:
            context = [self.special.sot_prev, *list(prompt)[-MAX_PROMPT_TOKENS:], *context]
        allowance = int(len(audio) / SAMPLE_RATE * MAX_TOKENS_PER_SECOND) + MIN_TOKEN_ALLOWANCE
        # The decoder has a fixed number of positions; the end-of-text needs one too.
        positions = self.model.config.max_target_positions
        draft = list(draft)[: max(0, positions - len(context) - 1)]
        allowance = max(0, min(allowance, positions - len(context) - 1))
        with torch_threads(self.token_threads):
            new, accepted = self._continue(
                states, context, list(draft), first=not prefix, limit=allowance
            )
            words, word_tokens, no_speech = self._words(
                states, start, list(prefix), new, audio, offset
            )
        generated = len(new) - accepted
        if self._is_silence(no_speech, words):
            words, word_tokens = (), ()
        return Hypothesis(
            words, word_tokens, no_speech, accepted, generated, time.perf_counter() - began
        )

    # -- generation -------------------------------------------------------------------------
    def _next(self, logits: torch.Tensor, first: bool) -> int:
        mask = self._suppressed_first if first else self._suppressed
        return int(logits.float().masked_fill(mask, -torch.inf).argmax())

    def _continue(
        self, states: torch.Tensor, context: list[int], draft: list[int], first: bool, limit: int
    ) -> tuple[list[int], int]:
        """(tokens after the context, how many of them came from the draft)."""
        decoder = self.model.model.decoder
        with torch.inference_mode():
            ids = torch.tensor([[*context, *draft]], device=states.device)
            out = decoder(input_ids=ids, encoder_hidden_states=states, use_cache=True)
            logits = self.model.proj_out(out.last_hidden_state[0, len(context) - 1 :])
            accepted = 0
            token = self._next(logits[0], first)
            while accepted < len(draft) and token == draft[accepted]:
                accepted += 1
                token = self._next(logits[accepted], False)
            cache = out.cache
            if accepted < len(draft):  # forget what the model did not agree with
                cache.crop(-(len(draft) - accepted))
            tokens = draft[:accepted]
            if self.options.beam_size > 1:
                first_logprobs = self._logprobs(
                    logits[accepted : accepted + 1], first and not tokens
                )
                return tokens + self._beam(
                    states, cache, first_logprobs, limit - accepted
                ), accepted
            while token != self.special.eot and len(tokens) < limit:
                tokens.append(token)
                step = torch.tensor([[token]], device=states.device)
                out = decoder(
                    input_ids=step, encoder_hidden_states=states, cache=cache, use_cache=True
                )
                cache = out.cache
                token = self._next(self.model.proj_out(out.last_hidden_state[0, -1]), False)
        return tokens, accepted

    def _logprobs(self, logits: torch.Tensor, first: bool) -> torch.Tensor:
        mask = self._suppressed_first if first else self._suppressed
        return torch.log_softmax(logits.float().masked_fill(mask, -torch.inf), dim=-1)

    def _beam(
        self,
        states: torch.Tensor,
        cache,
        logprobs: torch.Tensor,
        limit: int,  # type: ignore[no-untyped-def]
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
            cache.self_attention_cache.reorder_cache(torch.tensor(rows, device=states.device))
            if cache.cross_attention_cache.layers[0].keys.shape[0] != len(rows):
                same = torch.zeros(len(rows), dtype=torch.long, device=states.device)
                cache.cross_attention_cache.reorder_cache(same)
            step = torch.tensor([[tokens[-1]] for tokens, _ in beams], device=states.device)
            out = self.model.model.decoder(
                input_ids=step,
                encoder_hidden_states=states.expand(len(beams), -1, -1),
                cache=cache,
                use_cache=True,
            )
            hidden = out.last_hidden_state[:, -1]
            logprobs = self._logprobs(self.model.proj_out(hidden), False)
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
        """Words of ``new`` (timed in the context of the prefix), their tokens, no-speech p."""
        tokens = prefix + new
        frames = min(len(audio), 30 * SAMPLE_RATE) // SAMPLES_PER_FRAME
        [scored] = token_pass(
            self.model, states, [start], [tokens], self.special,
            self.window.alignment_heads, [frames],
        )  # fmt: skip
        if not new:
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
            word_tokens.append(tuple(span.tokens))
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
