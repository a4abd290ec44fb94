"""Decode windows of at most 30 s: generate, fall back on loops, time and score each word.

A window is what Whisper hears at once. This module turns a batch of windows into segments
with absolute times; the long-form loop (``transcriber.py``) and the live transcriber decide
which windows to decode.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from voxtune.engine.families.whisper.alignment import (
    TokenPass,
    split_words,
    timed_word,
    token_pass,
    trim_long_boundary_words,
)
from voxtune.engine.families.whisper.decoding import Decoder, DecodeSettings, TokenRules
from voxtune.engine.families.whisper.runner import runner_of
from voxtune.engine.families.whisper.tokens import special_tokens
from voxtune.engine.models import LoadedModel
from voxtune.engine.types import Segment, TranscriptionOptions, Word

SAMPLE_RATE = 16000
WINDOW_SECONDS = 30.0
WINDOW_SAMPLES = int(SAMPLE_RATE * WINDOW_SECONDS)
SAMPLES_PER_FEATURE = 160  # hop length of the log-mel spectrogram
MAX_PROMPT_TOKENS = 220  # half the decoder's 448 positions, less the start sequence
MAX_NEW_TOKENS = 224


@dataclass
class WindowRequest:
    audio: np.ndarray  # 16 kHz mono float32, at most 30 s
    offset: float  # absolute time of audio[0], seconds
    language: str | None = None  # None: detect (multilingual models)
    prompt_tokens: list[int] = field(default_factory=list)  # earlier text, for conditioning
    # The encoder's output for ``audio`` when the caller already has it (language detection
    # ran the encoder on this very window): decoding then reuses it instead of encoding again.
    encoded: torch.Tensor | None = None


@dataclass
class WindowResult:
    segments: list[Segment]
    consumed: float  # seconds of the window accounted for: where the next window starts
    # What the model wrote, timestamps included: the next window's prompt, as in openai-whisper.
    prompt_tokens: list[int]
    temperature: float
    language: str | None
    language_probability: float


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


class WindowDecoder:
    """Decodes batches of windows with one loaded Whisper model."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.runner = runner_of(loaded.model)
        self.tokenizer = loaded.processor.tokenizer
        self.feature_extractor = loaded.processor.feature_extractor
        multilingual = getattr(self.runner.generation_config, "is_multilingual", None)
        if multilingual is None:
            multilingual = loaded.info.multilingual
        self.special = special_tokens(self.tokenizer, bool(multilingual))
        heads = getattr(self.runner.generation_config, "alignment_heads", None) or []
        self.alignment_heads = [(int(layer), int(head)) for layer, head in heads]
        self._decode_cache: dict[tuple[int, ...], str] = {}
        generation = self.runner.generation_config
        rules = TokenRules(
            self.special,
            self.runner.config.vocab_size,
            getattr(generation, "suppress_tokens", None) or [],
            getattr(generation, "begin_suppress_tokens", None) or [],
            timestamps=True,
        )
        self.decoding = Decoder(self.runner, self.special, rules)

    # -- pieces ---------------------------------------------------------------------------
    def decode_text(self, tokens: Sequence[int]) -> str:
        key = tuple(tokens)
        text = self._decode_cache.get(key)
        if text is None:
            text = self.tokenizer.decode(list(tokens), skip_special_tokens=False)
            if len(self._decode_cache) < 100_000:
                self._decode_cache[key] = text
        return text

    def encode(self, audios: Sequence[np.ndarray]) -> torch.Tensor:
        features = self.feature_extractor(
            [a[:WINDOW_SAMPLES] for a in audios],
            sampling_rate=SAMPLE_RATE,
            return_tensors="pt",
        ).input_features
        features = features.to(self.loaded.device, self.loaded.dtype)
        return self.runner.encode(features)

    def detect_language(self, encoder_states: torch.Tensor) -> list[tuple[str, float]]:
        if not self.special.multilingual:
            return [("en", 1.0)] * encoder_states.shape[0]
        codes = list(self.special.language_ids)
        ids = torch.tensor([self.special.language_ids[c] for c in codes])
        sot = torch.full((encoder_states.shape[0], 1), self.special.sot, dtype=torch.long)
        logits, _ = self.runner.decode(sot.to(encoder_states.device), encoder_states, None)
        logits = logits[:, -1]
        probs = logits[:, ids.to(logits.device)].softmax(dim=-1)
        best = probs.argmax(dim=-1)
        return [(codes[int(b)], float(probs[i, b])) for i, b in enumerate(best)]

    # -- the window loop ------------------------------------------------------------------
    def decode(
        self, requests: Sequence[WindowRequest], options: TranscriptionOptions
    ) -> list[WindowResult]:
        if not requests:
            return []
        states = self._encoder_states(requests)
        languages: list[tuple[str | None, float]] = [(r.language, 1.0) for r in requests]
        if self.special.multilingual:
            undetected = [i for i, r in enumerate(requests) if r.language is None]
            if undetected:
                found = self.detect_language(states[undetected])
                for i, result in zip(undetected, found, strict=True):
                    languages[i] = result
        else:
            languages = [("en", 1.0)] * len(requests)

        results: list[WindowResult | None] = [None] * len(requests)
        pending = list(range(len(requests)))
        temperatures = options.temperatures or (0.0,)
        for attempt, temperature in enumerate(temperatures):
            last_attempt = attempt == len(temperatures) - 1
            generated = self._generate(
                states[pending], [requests[i] for i in pending],
                [languages[i][0] for i in pending], options, temperature,
            )  # fmt: skip
            passes = self._token_pass(
                states[pending], [requests[i] for i in pending],
                [languages[i][0] for i in pending], generated, options.task,
            )  # fmt: skip
            still_pending = []
            for i, tokens, scored in zip(pending, generated, passes, strict=True):
                text = self.decode_text([t for t in tokens if self.special.is_text(t)])
                silent = self._is_silent(scored, options)
                needs_fallback = not silent and (
                    (
                        options.compression_ratio_threshold is not None
                        and compression_ratio(text) > options.compression_ratio_threshold
                    )
                    or (
                        options.log_prob_threshold is not None
                        and scored.avg_logprob < options.log_prob_threshold
                    )
                )
                if needs_fallback and not last_attempt:
                    still_pending.append(i)
                    continue
                language, probability = languages[i]
                results[i] = self._result(
                    requests[i], tokens, scored, temperature, language, probability, silent
                )
            pending = still_pending
            if not pending:
                break
        return [r for r in results if r is not None]

    def _encoder_states(self, requests: Sequence[WindowRequest]) -> torch.Tensor:
        """The encoder's output for every request, encoding only the windows that lack one."""
        missing = [r.audio for r in requests if r.encoded is None]
        fresh = self.encode(missing) if missing else None
        if fresh is not None and len(missing) == len(requests):
            return fresh
        rows, used = [], 0
        for request in requests:
            if request.encoded is not None:
                rows.append(request.encoded)
            else:
                assert fresh is not None
                rows.append(fresh[used : used + 1])
                used += 1
        return torch.cat(rows)

    def _is_silent(self, scored: TokenPass, options: TranscriptionOptions) -> bool:
        if (
            options.no_speech_threshold is None
            or scored.no_speech_prob <= options.no_speech_threshold
        ):
            return False
        return options.log_prob_threshold is None or scored.avg_logprob < options.log_prob_threshold

    def _generate(
        self,
        states: torch.Tensor,
        requests: Sequence[WindowRequest],
        languages: Sequence[str | None],
        options: TranscriptionOptions,
        temperature: float,
    ) -> list[list[int]]:
        """Decode each window; windows that share a decoder prefix run as one batch."""
        settings = DecodeSettings(
            beam_size=1 if temperature > 0 else options.beam_size,
            temperature=temperature,
            max_new_tokens=MAX_NEW_TOKENS,
        )
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (request, language) in enumerate(zip(requests, languages, strict=True)):
            prompt = request.prompt_tokens[-MAX_PROMPT_TOKENS:]
            prefix = []
            if prompt and self.special.sot_prev is not None:
                prefix = [self.special.sot_prev, *prompt]
            prefix += self.special.sot_sequence(language, options.task)
            groups.setdefault(tuple(prefix), []).append(i)
        results: list[list[int]] = [[] for _ in requests]
        for prefix, rows in groups.items():
            decoded = self.decoding.run(states[rows], prefix, settings)
            for row, tokens in zip(rows, decoded, strict=True):
                results[row] = tokens
        return results

    def _token_pass(
        self,
        states: torch.Tensor,
        requests: Sequence[WindowRequest],
        languages: Sequence[str | None],
        generated: Sequence[list[int]],
        task: str,
    ) -> list[TokenPass]:
        return token_pass(
            self.runner,
            states,
            [self.special.sot_sequence(lang, task) for lang in languages],
            [[t for t in tokens if self.special.is_text(t)] for tokens in generated],
            self.special,
            self.alignment_heads,
            [min(len(r.audio), WINDOW_SAMPLES) // SAMPLES_PER_FEATURE for r in requests],
        )

    # -- from tokens to segments ----------------------------------------------------------
    def _result(
        self,
        request: WindowRequest,
        tokens: list[int],
        scored: TokenPass,
        temperature: float,
        language: str | None,
        probability: float,
        silent: bool,
    ) -> WindowResult:
        window = min(len(request.audio), WINDOW_SAMPLES) / SAMPLE_RATE
        text_tokens = [t for t in tokens if self.special.is_text(t)]
        if silent or not text_tokens:
            return WindowResult([], window, [], temperature, language, probability)
        pieces, consumed = self._split_at_timestamps(tokens, window)
        segments: list[Segment] = []
        position = 0  # index of the piece's first token in text_tokens
        for start, end, piece in pieces:
            first, position = position, position + len(piece)
            text = self.decode_text(piece)
            if not text.strip():
                continue
            # Words never straddle two segments: split each segment's tokens on its own.
            floor = segments[-1].end - request.offset if segments else 0.0
            piece_words = self._words(piece, first, scored, language, request.offset, window, floor)
            seg_start, seg_end = request.offset + start, request.offset + end
            if piece_words:
                piece_words = trim_long_boundary_words(piece_words)
                seg_start, seg_end = piece_words[0].start, piece_words[-1].end
            segments.append(
                Segment(
                    start=round(seg_start, 3),
                    end=round(max(seg_end, seg_start), 3),
                    text=text,
                    words=tuple(piece_words),
                    language=language,
                    avg_logprob=scored.avg_logprob,
                    no_speech_prob=scored.no_speech_prob,
                    compression_ratio=compression_ratio(text),
                    temperature=temperature,
                )
            )
        if segments and consumed < window and segments[-1].words:
            # The last segment is unfinished: resume after its last word, not its timestamp.
            consumed = max(consumed, segments[-1].end - request.offset)
        if consumed <= 0.0:
            consumed = window
        return WindowResult(segments, consumed, tokens, temperature, language, probability)

    def _split_at_timestamps(
        self, tokens: list[int], window: float
    ) -> tuple[list[tuple[float, float, list[int]]], float]:
        """Segments between timestamp tokens, and how far into the window decoding got."""
        special = self.special

        def seconds(token: int) -> float:
            return min(window, (token - special.timestamp_begin) * 0.02)

        is_ts = [special.is_timestamp(t) for t in tokens]
        single_ending = len(tokens) >= 2 and is_ts[-2:] == [False, True]
        boundaries = [i + 1 for i in range(len(tokens) - 1) if is_ts[i] and is_ts[i + 1]]
        pieces: list[tuple[float, float, list[int]]] = []
        if boundaries:
            slices = boundaries + ([len(tokens)] if single_ending else [])
            last = 0
            for cut in slices:
                chunk = tokens[last:cut]
                text = [t for t in chunk if special.is_text(t)]
                stamps = [t for t in chunk if special.is_timestamp(t)]
                if text and stamps:
                    pieces.append((seconds(stamps[0]), seconds(stamps[-1]), text))
                elif text:
                    pieces.append((0.0, window, text))
                last = cut
            trailing = [t for t in tokens[last:] if special.is_text(t)]
            if trailing:  # text after the last closed segment, with no closing stamp
                stamps = [t for t in tokens[last:] if special.is_timestamp(t)]
                pieces.append((seconds(stamps[0]) if stamps else 0.0, window, trailing))
                return pieces, window
            consumed = window if single_ending else seconds(tokens[boundaries[-1] - 1])
            return pieces, consumed
        stamps = [t for t in tokens if special.is_timestamp(t)]
        end = window
        if stamps and stamps[-1] != special.timestamp_begin:
            end = seconds(stamps[-1])
        start = seconds(stamps[0]) if stamps and len(stamps) > 1 else 0.0
        return [(start, end, [t for t in tokens if special.is_text(t)])], window

    def _words(
        self,
        piece: list[int],
        first: int,
        scored: TokenPass,
        language: str | None,
        offset: float,
        window: float,
        floor: float,
    ) -> list[Word]:
        """The piece's words; ``first`` is the index of its first token in the window."""
        spans = split_words(piece, self.decode_text, language)
        words: list[Word] = []
        previous_end = floor  # no word starts before the previous segment ended
        for span in spans:
            if not span.text.strip():
                continue
            indices = [first + i for i in span.token_indices]
            word, previous_end = timed_word(
                span.text, indices, scored, offset, window, previous_end
            )
            words.append(word)
        return words
