"""Our own Whisper decoding loop: greedy, beam search and sampling with a KV cache.

transformers' ``WhisperForConditionalGeneration.generate`` wraps long-form logic, fallback
and logits processors we replace anyway; on this machine it also ran an order of magnitude
slower than the decoder itself. This loop calls the decoder directly, applies Whisper's
timestamp rules (openai-whisper ``decoding.py``: timestamps come in pairs, never go back,
the first one is at most 1 s in) and returns only the tokens the model wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from voxtune.engine.families.whisper.runner import WhisperRunner
from voxtune.engine.families.whisper.tokens import SpecialTokens

NEG_INF = float("-inf")
MAX_INITIAL_TIMESTAMP = 1.0  # seconds
SECONDS_PER_TIMESTAMP = 0.02


@dataclass(frozen=True)
class DecodeSettings:
    beam_size: int = 1
    temperature: float = 0.0
    max_new_tokens: int = 224
    timestamps: bool = True


class TokenRules:
    """Masks the logits of each step as Whisper's training format requires."""

    def __init__(
        self,
        special: SpecialTokens,
        vocab_size: int,
        suppress: Sequence[int],
        begin_suppress: Sequence[int],
        timestamps: bool,
    ) -> None:
        self.special = special
        self.timestamps = timestamps
        self.suppress = torch.tensor(
            sorted({t for t in suppress if t < vocab_size}), dtype=torch.long
        )
        self.begin_suppress = torch.tensor(
            sorted({t for t in begin_suppress if t < vocab_size}), dtype=torch.long
        )
        # Special tokens the model must never write (start tokens, language, task, ...).
        specials = [
            t
            for t in (special.sot, special.sot_prev, special.no_speech, special.transcribe,
                      special.translate, *special.language_ids.values())
            if t is not None and t < vocab_size
        ]  # fmt: skip
        if timestamps:
            specials.append(special.no_timestamps)
        self.never = torch.tensor(sorted(set(specials)), dtype=torch.long)
        self.max_initial = special.timestamp_begin + round(
            MAX_INITIAL_TIMESTAMP / SECONDS_PER_TIMESTAMP
        )

    def apply(self, logits: torch.Tensor, generated: list[list[int]]) -> torch.Tensor:
        """Mask ``logits`` (rows x vocab, float32) in place; ``generated``: tokens so far."""
        logits[:, self.never] = NEG_INF
        if self.suppress.numel():
            logits[:, self.suppress] = NEG_INF
        first_step = not generated[0]
        if first_step and self.begin_suppress.numel():
            logits[:, self.begin_suppress] = NEG_INF
        if not self.timestamps:
            logits[:, self.special.timestamp_begin :] = NEG_INF
            return logits
        begin, eot = self.special.timestamp_begin, self.special.eot
        if first_step:
            logits[:, :begin] = NEG_INF  # a segment opens with its start time
            logits[:, self.max_initial + 1 :] = NEG_INF
            return logits
        for row, tokens in enumerate(generated):
            last_ts = tokens[-1] >= begin
            penultimate_ts = len(tokens) < 2 or tokens[-2] >= begin
            if last_ts:
                if penultimate_ts:  # a pair just closed: text must follow
                    logits[row, begin:] = NEG_INF
                else:  # a segment just ended: another timestamp or the end
                    logits[row, :eot] = NEG_INF
            stamps = [t for t in tokens if t >= begin]
            if stamps:
                # Never back in time; after a closing stamp the next opening may repeat it.
                floor = stamps[-1] if (last_ts and not penultimate_ts) else stamps[-1] + 1
                logits[row, begin:floor] = NEG_INF
        # When time is likelier than any text token, a timestamp it is. Compared on the raw
        # logits: log-softmax subtracts the same normaliser from both sides, and skipping it
        # saves a pass over the vocabulary at every step.
        timestamp_lp = torch.logsumexp(logits[:, begin:], dim=-1)
        text_lp = logits[:, :begin].max(dim=-1).values
        force = timestamp_lp > text_lp
        if force.any():
            logits[force, :begin] = NEG_INF
        return logits


class Decoder:
    """Runs the loop over a batch of windows sharing one decoder prefix."""

    def __init__(self, runner: WhisperRunner, special: SpecialTokens, rules: TokenRules) -> None:
        self.runner = runner
        self.special = special
        self.rules = rules

    def _step(self, ids: torch.Tensor, states: torch.Tensor, cache):  # type: ignore[no-untyped-def]
        logits, cache = self.runner.decode(ids, states, cache, logits_from=ids.shape[1] - 1)
        return logits[:, -1], cache

    @torch.inference_mode()
    def run(
        self, states: torch.Tensor, prefix: Sequence[int], settings: DecodeSettings
    ) -> list[list[int]]:
        if settings.beam_size > 1 and settings.temperature == 0.0:
            return [self._beam(states[i : i + 1], prefix, settings) for i in range(len(states))]
        return self._sample(states, prefix, settings)

    def _sample(
        self, states: torch.Tensor, prefix: Sequence[int], settings: DecodeSettings
    ) -> list[list[int]]:
        """Greedy (temperature 0) or sampling, the whole batch at once."""
        rows = states.shape[0]
        ids = torch.tensor([list(prefix)] * rows, dtype=torch.long, device=states.device)
        generated: list[list[int]] = [[] for _ in range(rows)]
        done = [False] * rows
        cache = None
        for _ in range(settings.max_new_tokens):
            logits, cache = self._step(ids, states, cache)
            logits = self.rules.apply(logits, generated)
            if settings.temperature > 0:
                probs = torch.softmax(logits / settings.temperature, dim=-1)
                next_tokens = torch.multinomial(probs, 1).squeeze(1)
            else:
                next_tokens = logits.argmax(dim=-1)
            for row, token in enumerate(next_tokens.tolist()):
                if done[row]:
                    continue
                if token == self.special.eot:
                    done[row] = True
                else:
                    generated[row].append(token)
            if all(done):
                break
            # Finished rows keep feeding end-of-text; their output is frozen above.
            ids = next_tokens.masked_fill(
                torch.tensor(done, device=next_tokens.device), self.special.eot
            )[:, None]
        return generated

    def _beam(
        self, states: torch.Tensor, prefix: Sequence[int], settings: DecodeSettings
    ) -> list[int]:
        """Beam search for one window (openai-whisper's ranking: log-prob over length)."""
        beam = settings.beam_size
        states = states.expand(beam, -1, -1)
        ids = torch.tensor([list(prefix)] * beam, dtype=torch.long, device=states.device)
        beams: list[list[int]] = [[] for _ in range(beam)]
        scores = torch.full((beam,), NEG_INF)
        scores[0] = 0.0  # identical starts: keep one, or the beam would hold copies
        finished: list[tuple[float, list[int]]] = []
        cache = None
        for _ in range(settings.max_new_tokens):
            logits, cache = self._step(ids, states, cache)
            logprobs = torch.log_softmax(self.rules.apply(logits, beams), dim=-1).cpu()
            candidates = (scores[:, None] + logprobs).flatten()
            top_scores, top_index = candidates.topk(2 * beam)
            vocab = logprobs.shape[1]
            next_beams: list[list[int]] = []
            next_scores: list[float] = []
            sources: list[int] = []
            next_tokens: list[int] = []
            for score, index in zip(top_scores.tolist(), top_index.tolist(), strict=True):
                if score == NEG_INF:
                    break
                source, token = divmod(index, vocab)
                if token == self.special.eot:
                    if len(finished) < beam:
                        finished.append((score, beams[source]))
                    continue
                next_beams.append([*beams[source], token])
                next_scores.append(score)
                sources.append(source)
                next_tokens.append(token)
                if len(next_beams) == beam:
                    break
            if len(finished) >= beam or not next_beams:
                break
            while len(next_beams) < beam:  # keep the batch shape; padding beams never win
                next_beams.append(next_beams[0])
                next_scores.append(NEG_INF)
                sources.append(sources[0])
                next_tokens.append(next_tokens[0])
            cache = self.runner.reorder(cache, sources)
            beams, scores = next_beams, torch.tensor(next_scores)
            ids = torch.tensor(next_tokens, device=states.device)[:, None]
        if not finished:
            finished = [(float(s), b) for s, b in zip(scores.tolist(), beams, strict=True)]
        best = max(finished, key=lambda item: item[0] / max(1, len(item[1]) + 1))
        return best[1]
