"""Qwen3-ASR on a live buffer: the same continuation contract as Whisper's, on a chat prompt.

Qwen3-ASR answers a chat turn holding the audio with ``language English<asr_text>the words``.
A step of a live session (``transcriber.py``) decodes a buffer whose start is already
settled, so, as ``continuation.py`` does for Whisper:

* the committed words inside the buffer (the *prefix*) are forced as the start of the answer
  after ``<asr_text>``: the model continues them and never writes them again;
* last step's tentative words (the *draft*) go through the model in the same forward pass
  as the audio and the prefix, and are kept as far as the model's greedy choice agrees;
  only the rest is generated token by token (greedy, or beam search with ``beam_size > 1``);
* committed words before the buffer (the *prompt*) become the request's context (the
  system prompt the processor's ``apply_transcription_request(prompt=…)`` writes). Qwen3-ASR
  reads that context as background text for the audio, which is what earlier words of the
  same speech are;
* the language is the forced one, or the one the model names on its first confident step,
  then kept: later steps force it, so the answer's header is never generated again.

Word times come from a Qwen3-ForcedAligner when one is given. Without one, Qwen3-ASR says
nothing about time, so new words get **estimated** times: spread over the buffer's audio
after the last prefix word's end, in proportion to their length in characters. They are
only good enough for what the stream uses them for: the commit policy's margin at the end
of the audio and where the buffer may be cut.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from voxtune.engine.families.forced_aligner.aligner import ForcedAligner
from voxtune.engine.families.qwen3_asr.transcriber import check_request, language_names
from voxtune.engine.families.qwen3_asr.words import ASR_TEXT, ScoredWord, is_cjk
from voxtune.engine.models import LoadedModel
from voxtune.engine.stream.decoders import Hypothesis
from voxtune.engine.types import TranscriptionOptions, Word

if TYPE_CHECKING:
    import torch

SAMPLE_RATE = 16000
MAX_PROMPT_TOKENS = 128
# Speech runs at ~3-4 tokens a second; more than this is a decoder stuck in a loop.
MAX_TOKENS_PER_SECOND = 8
MIN_TOKEN_ALLOWANCE = 8
# "language Portuguese" is a handful of tokens; a model that has not written <asr_text> by
# then is not writing a header at all.
HEADER_LIMIT = 8
NO_LANGUAGE = "none"  # "language None<asr_text>": the model hears no speech


@dataclass(frozen=True)
class _Start:
    """Where the answer's text begins: tokens still to feed, and what the cache holds."""

    pending: list[int]  # fed with the prefix and the draft in the one pass
    cache: object | None  # transformers Cache after the tokens before ``pending``; None: empty
    features: dict  # the audio, when no pass has read it yet (else empty)
    speech: bool = True


@dataclass(frozen=True)
class _Piece:
    """A word of the answer: its text, token ids and their log-probabilities."""

    text: str
    tokens: tuple[int, ...]
    logprobs: tuple[float, ...]


def split_words(
    tokenizer,  # type: ignore[no-untyped-def]
    context: Sequence[int],
    tokens: Sequence[int],
    logprobs: Sequence[float],
) -> list[_Piece]:
    """``tokens`` (written after ``context``) as words, by the rule ``words`` uses:
    a word starts at a space or a CJK character. The first token always starts a word, so
    a committed word the model goes on with is never reopened."""
    pieces: list[_Piece] = []
    ids = list(context)
    decoded = tokenizer.decode(ids) if ids else ""
    for token, logprob in zip(tokens, logprobs, strict=True):
        ids.append(token)
        # Decoding the growing sequence keeps multi-byte characters split across tokens whole.
        full = tokenizer.decode(ids)
        piece, decoded = full[len(decoded) :], full
        last = pieces[-1] if pieces else None
        # A space alone is not a word: it joins the text that follows it.
        starts_word = last is None or (
            bool(piece) and (piece[0].isspace() or is_cjk(piece[0])) and bool(last.text.strip())
        )
        if starts_word:
            pieces.append(_Piece(piece, (token,), (logprob,)))
        else:
            assert last is not None
            pieces[-1] = _Piece(last.text + piece, (*last.tokens, token), (*last.logprobs, logprob))
    return pieces


class Qwen3ContinuationDecoder:
    """``decode`` as ``ContinuationDecoder.decode``, for a Qwen3-ASR model.

    ``aligner``: a loaded Qwen3-ForcedAligner for word times (estimated without one).
    It runs with the process's torch thread count, which a session never changes (see
    ``voxtune.engine.torch_threads``).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        options: TranscriptionOptions,
        aligner: LoadedModel | None = None,
    ) -> None:
        import torch

        self.names = language_names()
        self.codes = {name.lower(): code for code, name in self.names.items()}
        check_request(loaded.info.name, options, self.names)
        self.options = options
        self.loaded = loaded
        self.model = loaded.model
        self.processor = loaded.processor
        self.tokenizer = self.processor.tokenizer
        self.aligner = ForcedAligner(aligner) if aligner is not None else None
        self.language_name = self.names[options.language] if options.language else None
        self.marker = self.tokenizer.convert_tokens_to_ids(ASR_TEXT)
        stops = self.model.generation_config.eos_token_id or self.model.config.eos_token_id
        self.stops = {stops} if isinstance(stops, int) else set(stops or ())
        # Only text and the end of the answer may be written: no chat, audio or timestamp
        # tokens, nor the rows of the output matrix no token has.
        vocabulary = self.model.get_output_embeddings().weight.shape[0]
        suppressed = torch.zeros(vocabulary, dtype=torch.bool)
        suppressed[[i for i in self.tokenizer.added_tokens_decoder if i < vocabulary]] = True
        suppressed[len(self.tokenizer) :] = True
        suppressed[[i for i in self.stops if i < vocabulary]] = False
        self._suppressed = suppressed.to(loaded.device)
        # Each word of the last decode (the prefix as one) with its end: where the next
        # step's prefix ends in time, for estimated times that never go back.
        self._recent: list[tuple[tuple[int, ...], float]] = []

    @property
    def language(self) -> str | None:
        """The language code in force (forced, or detected and kept); None before that."""
        return self.codes.get(self.language_name.lower()) if self.language_name else None

    def decode(
        self,
        audio: np.ndarray,
        offset: float,
        *,
        prompt: Sequence[int] = (),
        prefix: Sequence[int] = (),
        draft: Sequence[int] = (),
    ) -> Hypothesis:
        import torch

        began = time.perf_counter()
        prefix = list(prefix)
        allowance = int(len(audio) / SAMPLE_RATE * MAX_TOKENS_PER_SECOND) + MIN_TOKEN_ALLOWANCE
        with torch.inference_mode():
            start = self._start(audio, self._context(prompt))
            if not start.speech:
                self._recent = []
                return Hypothesis((), (), 1.0, 0, 0, time.perf_counter() - began)
            new, logprobs, accepted = self._continue(
                start, start.pending + prefix, list(draft)[:allowance], allowance
            )
        pieces = split_words(self.tokenizer, prefix, new, logprobs)
        if pieces and not pieces[-1].text.strip():
            pieces = pieces[:-1]  # a trailing space is no word
        end_of_audio = offset + len(audio) / SAMPLE_RATE
        anchor = min(self._anchor(prefix, offset, audio, pieces), end_of_audio)
        words = self._timed(audio, offset, prefix, pieces, anchor)
        self._recent = [(tuple(prefix), anchor)]
        self._recent += [(p.tokens, w.end) for p, w in zip(pieces, words, strict=True)]
        return Hypothesis(
            tuple(words),
            tuple(p.tokens for p in pieces),
            0.0,
            accepted,
            len(new) - accepted,
            time.perf_counter() - began,
        )

    # -- the request ------------------------------------------------------------------------
    def _context(self, prompt: Sequence[int]) -> str | None:
        earlier = self.tokenizer.decode(list(prompt)[-MAX_PROMPT_TOKENS:]).strip()
        given = (self.options.initial_prompt or "").strip()
        return " ".join(t for t in (given, earlier) if t) or None

    def _inputs(self, audio: np.ndarray, context: str | None):  # type: ignore[no-untyped-def]
        inputs = self.processor.apply_transcription_request(
            audio=[audio],
            language=self.language_name,
            prompt=[context] if context else None,
        )
        inputs = inputs.to(self.loaded.device)
        inputs["input_features"] = inputs["input_features"].to(self.loaded.dtype)
        return inputs

    def _start(self, audio: np.ndarray, context: str | None) -> _Start:
        """The request, and with no language yet, the model's own header (its language)."""
        inputs = self._inputs(audio, context)
        prompt = inputs["input_ids"][0].tolist()
        features = {
            "input_features": inputs["input_features"],
            "input_features_mask": inputs["input_features_mask"],
        }
        if self.language_name is not None:  # the header is in the prompt already
            return _Start(prompt, None, features)
        out = self.model(
            input_ids=inputs["input_ids"], **features, use_cache=True, logits_to_keep=1
        )
        cache, header = out.cache, []
        # The header is the model's own choice, unmasked: <asr_text> ends it.
        token = int(out.logits[0, -1].argmax())
        while token != self.marker and token not in self.stops and len(header) < HEADER_LIMIT:
            header.append(token)
            out = self._step([[token]], cache)
            cache, token = out.cache, int(out.logits[0, -1].argmax())
        if token != self.marker:
            # No header: this model writes the text straight away. Forget what it wrote and
            # start the text at the prompt's end (its last token is fed again with the rest).
            cache.crop(-(len(header) + 1))
            return _Start(prompt[-1:], cache, {})
        said = self.tokenizer.decode(header, skip_special_tokens=True).strip()
        name = said[len("language ") :].strip() if said.lower().startswith("language ") else ""
        if name.lower() == NO_LANGUAGE:
            return _Start([], None, {}, speech=False)
        if name.lower() in self.codes:
            self.language_name = self.names[self.codes[name.lower()]]
        return _Start([self.marker], cache, {})

    # -- generation -------------------------------------------------------------------------
    def _step(self, ids: list[list[int]], cache):  # type: ignore[no-untyped-def]
        import torch

        step = torch.tensor(ids, device=self.loaded.device)
        return self.model(input_ids=step, cache=cache, use_cache=True, logits_to_keep=1)

    def _logprobs(self, logits: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.log_softmax(logits.float().masked_fill(self._suppressed, -math.inf), dim=-1)

    def _continue(
        self, start: _Start, context: list[int], draft: list[int], limit: int
    ) -> tuple[list[int], list[float], int]:
        """(tokens after the context, their log-probabilities, how many came from the draft)."""
        import torch

        ids = torch.tensor([[*context, *draft]], device=self.loaded.device)

        out = self.model(
            input_ids=ids,
            **start.features,
            cache=start.cache,
            use_cache=True,
            logits_to_keep=len(draft) + 1,  # from the context's last token on
        )
        rows = self._logprobs(out.logits[0])
        cache = out.cache
        tokens: list[int] = []
        scores: list[float] = []
        row = rows[0]
        token = int(row.argmax())
        while len(tokens) < len(draft) and token == draft[len(tokens)]:
            tokens.append(token)
            scores.append(float(row[token]))
            row = rows[len(tokens)]
            token = int(row.argmax())
        accepted = len(tokens)
        if accepted < len(draft):  # forget what the model did not agree with
            cache.crop(-(len(draft) - accepted))
        if self.options.beam_size > 1:
            more, more_scores = self._beam(cache, row, limit - accepted)
            return tokens + more, scores + more_scores, accepted
        while token not in self.stops and len(tokens) < limit:
            tokens.append(token)
            scores.append(float(row[token]))
            out = self._step([[token]], cache)
            cache, row = out.cache, self._logprobs(out.logits[0, -1])
            token = int(row.argmax())
        return tokens, scores, accepted

    def _beam(self, cache, logprobs: torch.Tensor, limit: int) -> tuple[list[int], list[float]]:  # type: ignore[no-untyped-def]
        """Beam search onward from the cache (ranked as openai-whisper does: log-prob / length)."""
        import torch

        size = self.options.beam_size
        beams: list[tuple[list[int], list[float], float]] = [([], [], 0.0)]
        finished: list[tuple[list[int], list[float], float]] = []
        table = logprobs[None]
        for _ in range(limit):
            candidates = []
            for index, (_, _, score) in enumerate(beams):
                top = table[index].topk(size + 1)
                for value, token in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                    candidates.append((score + value, index, token, value))
            candidates.sort(key=lambda c: c[0], reverse=True)
            kept: list[tuple[list[int], list[float], float]] = []
            rows: list[int] = []
            for score, index, token, value in candidates:
                if len(kept) == size:
                    break  # an end ranked below every kept beam is not worth finishing
                if math.isinf(value):
                    continue
                tokens, values, _ = beams[index]
                if token in self.stops:
                    finished.append((tokens, values, score))
                else:
                    kept.append(([*tokens, token], [*values, value], score))
                    rows.append(index)
            if len(finished) >= size or not kept:
                break
            beams = kept
            cache.reorder_cache(torch.tensor(rows, device=self.loaded.device))
            out = self._step([[tokens[-1]] for tokens, _, _ in beams], cache)
            cache, table = out.cache, self._logprobs(out.logits[:, -1])
        ranked = finished or beams
        best, values, _ = max(ranked, key=lambda b: b[2] / max(1, len(b[0]) + 1))
        return best, values

    # -- times --------------------------------------------------------------------------------
    def _anchor(
        self, prefix: list[int], offset: float, audio: np.ndarray, pieces: Sequence[_Piece]
    ) -> float:
        """Where the prefix ends in time: as the last decode timed its last word."""
        if not prefix:
            return offset
        flat: list[int] = []
        boundaries: list[tuple[int, float]] = []
        for tokens, end in self._recent:
            flat.extend(tokens)
            boundaries.append((len(flat), end))
        # The usual step: the prefix is the last one and the first words of the last
        # hypothesis (those committed since), so it ends where that much of it ends.
        if self._recent and prefix[: len(self._recent[0][0])] == list(self._recent[0][0]):
            for length, end in boundaries:
                if length == len(prefix):
                    return end
        # After a cut the prefix lost its start: find where it ends. Where words repeat,
        # the latest match is taken: new words may then start late, never before it.
        for length, end in reversed(boundaries):
            if length >= len(prefix) and flat[length - len(prefix) : length] == prefix:
                return end
        # Not a prefix this decoder timed: give it its share of the buffer by characters.
        before = len(self.tokenizer.decode(prefix).strip())
        after = sum(len(p.text.strip()) for p in pieces)
        share = before / (before + after) if before + after else 1.0
        return offset + share * len(audio) / SAMPLE_RATE

    def _timed(
        self,
        audio: np.ndarray,
        offset: float,
        prefix: list[int],
        pieces: Sequence[_Piece],
        anchor: float,
    ) -> list[Word]:
        end_of_audio = offset + len(audio) / SAMPLE_RATE
        times = self._aligned(audio, offset, prefix, pieces) or self._estimated(
            pieces, anchor, end_of_audio
        )
        words: list[Word] = []
        previous = anchor
        for piece, (start, end) in zip(pieces, times, strict=True):
            # Never before a committed word's end, nor past the audio heard.
            start = min(max(start, previous), end_of_audio)
            end = min(max(end, start), end_of_audio)
            confidence = ScoredWord(piece.text, piece.logprobs).confidence
            words.append(Word(piece.text, start, end, confidence))
            previous = end
        return words

    def _aligned(
        self, audio: np.ndarray, offset: float, prefix: list[int], pieces: Sequence[_Piece]
    ) -> list[tuple[float, float]] | None:
        """Times from the forced aligner, prefix and new words aligned together."""
        if self.aligner is None or not pieces:
            return None
        committed = [p.text for p in split_words(self.tokenizer, [], prefix, [0.0] * len(prefix))]
        texts = [*committed, *(p.text for p in pieces)]
        times = self.aligner.align(audio, texts, self.language)
        if times is None:
            return None
        return [(offset + start, offset + end) for start, end in times[len(committed) :]]

    @staticmethod
    def _estimated(
        pieces: Sequence[_Piece], anchor: float, end_of_audio: float
    ) -> list[tuple[float, float]]:
        """Estimates, not measurements: the new words share the audio after the prefix in
        proportion to their length (a space counts, so no word takes no time)."""
        weights = [len(p.text.strip()) + 1 for p in pieces]
        span = max(0.0, end_of_audio - anchor) / max(1, sum(weights))
        times, at = [], anchor
        for weight in weights:
            times.append((at, at + weight * span))
            at += weight * span
        return times
