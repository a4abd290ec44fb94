"""Long-form transcription: speech regions, a seek loop of 30 s windows, lazy segments.

``Transcriber.transcribe`` returns ``(iterator of Segment, TranscriptionInfo)`` like
faster-whisper: segments are produced as the caller iterates, so the caller drives progress
and cancels by no longer iterating.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from voxtune.engine.models import LoadedModel
from voxtune.engine.transcribe.vad import VadOptions, speech_regions
from voxtune.engine.transcribe.window import (
    MAX_PROMPT_TOKENS,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    WINDOW_SECONDS,
    WindowDecoder,
    WindowRequest,
)
from voxtune.engine.types import Segment, TranscriptionInfo, TranscriptionOptions

MIN_WINDOW_SECONDS = 0.1  # less audio than this left in a region is not worth a window
# Conditioning on text decoded at a high temperature propagates its mistakes (openai-whisper).
PROMPT_RESET_TEMPERATURE = 0.5


class Transcriber:
    def __init__(
        self, loaded: LoadedModel, vad: VadOptions | None = None, batch_size: int = 8
    ) -> None:
        self.loaded = loaded
        self.decoder = WindowDecoder(loaded)
        self.vad = vad or VadOptions()
        self.batch_size = batch_size

    @property
    def model_name(self) -> str:
        return self.loaded.info.name

    def _regions(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> list[tuple[float, float]]:
        duration = len(audio) / SAMPLE_RATE
        if not options.vad:
            return [(0.0, duration)] if duration >= MIN_WINDOW_SECONDS else []
        return speech_regions(audio, self.vad)

    def _language(
        self, audio: np.ndarray, regions: list[tuple[float, float]], options: TranscriptionOptions
    ) -> tuple[str | None, float]:
        if not self.decoder.special.multilingual:
            return "en", 1.0
        if options.language:
            return options.language, 1.0
        if not regions:
            return None, 0.0
        start = int(regions[0][0] * SAMPLE_RATE)
        states = self.decoder.encode([audio[start : start + WINDOW_SAMPLES]])
        return self.decoder.detect_language(states)[0]

    def _prompt(self, options: TranscriptionOptions) -> list[int]:
        if not options.initial_prompt:
            return []
        ids = self.decoder.tokenizer.encode(
            " " + options.initial_prompt.strip(), add_special_tokens=False
        )
        return list(ids)[-MAX_PROMPT_TOKENS:]

    def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """Segments with absolute times (``offset`` is the time of ``audio[0]``)."""
        regions = self._regions(audio, options)
        language, probability = self._language(audio, regions, options)
        info = TranscriptionInfo(
            language=language,
            language_probability=probability,
            duration=offset + len(audio) / SAMPLE_RATE,
            model=self.model_name,
            options=options,
        )
        return self._segments(audio, regions, replace(options, language=language), offset), info

    def _segments(
        self,
        audio: np.ndarray,
        regions: list[tuple[float, float]],
        options: TranscriptionOptions,
        offset: float,
    ) -> Iterator[Segment]:
        prompt = self._prompt(options)
        for region_start, region_end in regions:
            seek = region_start
            while region_end - seek >= MIN_WINDOW_SECONDS:
                end = min(region_end, seek + WINDOW_SECONDS)
                window = audio[int(seek * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
                request = WindowRequest(
                    window,
                    offset + seek,
                    options.language,
                    prompt if options.condition_on_previous_text else [],
                )
                [result] = self.decoder.decode([request], options)
                yield from result.segments
                if result.temperature > PROMPT_RESET_TEMPERATURE:
                    prompt = []
                else:
                    prompt = (prompt + result.prompt_tokens)[-MAX_PROMPT_TOKENS:]
                seek += max(result.consumed, MIN_WINDOW_SECONDS)

    def transcribe_batch(
        self, audios: Sequence[np.ndarray], options: TranscriptionOptions
    ) -> list[list[Segment]]:
        """Short clips decoded together, one window each; times relative to each clip.

        A clip whose speech does not fit one window, or which the model did not finish in
        one window, goes through the sequential loop instead.
        """
        results: list[list[Segment]] = [[] for _ in audios]
        single: list[tuple[int, WindowRequest]] = []
        for index, audio in enumerate(audios):
            regions = self._regions(audio, options)
            if not regions:
                continue
            start, end = regions[0][0], regions[-1][1]
            if end - start > WINDOW_SECONDS:
                segments, _ = self.transcribe(audio, options)
                results[index] = list(segments)
                continue
            window = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
            single.append((index, WindowRequest(window, start, options.language)))
        for first in range(0, len(single), self.batch_size):
            chunk = single[first : first + self.batch_size]
            decoded = self.decoder.decode([request for _, request in chunk], options)
            for (index, request), result in zip(chunk, decoded, strict=True):
                results[index] = list(result.segments)
                window = len(request.audio) / SAMPLE_RATE
                if window - result.consumed >= MIN_WINDOW_SECONDS:
                    rest_start = request.offset + result.consumed
                    rest = audios[index][int(rest_start * SAMPLE_RATE) :]
                    more, _ = self.transcribe(
                        rest, replace(options, language=result.language), offset=rest_start
                    )
                    results[index].extend(more)
        return results
