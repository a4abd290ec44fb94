"""Long-form transcription: speech regions, a seek loop of 30 s windows, lazy segments.

``Transcriber.transcribe`` returns ``(iterator of Segment, TranscriptionInfo)`` like
faster-whisper: segments are produced as the caller iterates, so the caller drives progress
and cancels by no longer iterating.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from voxtune.engine.families.whisper.window import (
    MAX_PROMPT_TOKENS,
    SAMPLE_RATE,
    WINDOW_SECONDS,
    WindowDecoder,
    WindowRequest,
)
from voxtune.engine.models import LoadedModel
from voxtune.engine.transcribe.samples import sample_index
from voxtune.engine.transcribe.vad import VadOptions, speech_regions
from voxtune.engine.types import Checkpoint, Segment, TranscriptionInfo, TranscriptionOptions

MIN_WINDOW_SECONDS = 0.1  # less audio than this left in a region is not worth a window
# Conditioning on text decoded at a high temperature propagates its mistakes (openai-whisper).
PROMPT_RESET_TEMPERATURE = 0.5


@dataclass(frozen=True)
class EncodedWindow:
    """The first window's encoder output, kept from language detection for its decoding."""

    seek: float  # absolute time of ``audio[0]``
    audio: np.ndarray
    states: torch.Tensor


class Transcriber:
    def __init__(
        self, loaded: LoadedModel, vad: VadOptions | None = None, batch_size: int = 8
    ) -> None:
        self.loaded = loaded
        self.decoder = WindowDecoder(loaded)
        self.vad = vad or VadOptions()
        self.batch_size = batch_size

    _language_probability: float = 1.0  # of the last ``begin``; reported in TranscriptionInfo
    # Set by ``begin`` when it detected the language; ``windows`` takes it for its first window.
    _first_window: EncodedWindow | None = None

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
        self, window: np.ndarray, seek: float, options: TranscriptionOptions
    ) -> tuple[str | None, float]:
        """The language of the first window to decode (``window``, at ``seek``).

        Detection runs the encoder on exactly that window, and its output is kept for the
        window's decoding: a multilingual model encodes the first window once, not twice.
        """
        if not self.decoder.special.multilingual:
            return "en", 1.0
        if options.language:
            return options.language, 1.0
        if not len(window):
            return None, 0.0
        states = self.decoder.encode([window])
        self._first_window = EncodedWindow(seek, window, states)
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
        checkpoint = self.begin(audio, options, offset=offset)
        info = TranscriptionInfo(
            language=checkpoint.language,
            language_probability=self._language_probability,
            duration=offset + len(audio) / SAMPLE_RATE,
            model=self.model_name,
            options=options,
        )
        windows = self.windows(audio, options, checkpoint, offset=offset)
        return (s for segments, _ in windows for s in segments), info

    def begin(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> Checkpoint:
        """The checkpoint before the first window: speech regions, language, prompt."""
        regions = self._regions(audio, options)
        shifted = tuple((offset + a, offset + b) for a, b in regions)
        start = shifted[0][0] if shifted else offset
        prompt = tuple(self._prompt(options))
        checkpoint = _normalised(Checkpoint(shifted, 0, start, prompt, None))
        self._first_window = None
        first = np.zeros(0, np.float32)
        if not checkpoint.finished:
            first = _window_audio(audio, checkpoint, sample_index(offset))
        language, self._language_probability = self._language(first, checkpoint.seek, options)
        return replace(checkpoint, language=language)

    def windows(
        self,
        audio: np.ndarray,
        options: TranscriptionOptions,
        checkpoint: Checkpoint,
        *,
        offset: float = 0.0,
    ) -> Iterator[tuple[list[Segment], Checkpoint]]:
        """Decode window after window from ``checkpoint``: each window's segments and the
        checkpoint after it. ``audio[0]`` is at ``offset``, a sample boundary.

        Resuming from any checkpoint yields what an uninterrupted run yields from there,
        so a job store can persist checkpoints and continue after a crash.
        """
        first = sample_index(offset)
        options = replace(options, language=checkpoint.language)
        encoded, self._first_window = self._first_window, None
        while not checkpoint.finished:
            seek = checkpoint.seek
            request = WindowRequest(
                _window_audio(audio, checkpoint, first),
                seek,
                options.language,
                list(checkpoint.prompt) if options.condition_on_previous_text else [],
            )
            if encoded is not None and _same_window(encoded, request):
                request.encoded = encoded.states
            encoded = None
            [result] = self.decoder.decode([request], options)
            if result.temperature > PROMPT_RESET_TEMPERATURE:
                prompt: tuple[int, ...] = ()
            else:
                prompt = (*checkpoint.prompt, *result.prompt_tokens)[-MAX_PROMPT_TOKENS:]
            advance = max(result.consumed, MIN_WINDOW_SECONDS)
            checkpoint = _normalised(replace(checkpoint, seek=seek + advance, prompt=prompt))
            yield result.segments, checkpoint

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
            window = audio[sample_index(start) : sample_index(end)]
            single.append((index, WindowRequest(window, start, options.language)))
        for first in range(0, len(single), self.batch_size):
            chunk = single[first : first + self.batch_size]
            decoded = self.decoder.decode([request for _, request in chunk], options)
            for (index, request), result in zip(chunk, decoded, strict=True):
                results[index] = list(result.segments)
                window = len(request.audio) / SAMPLE_RATE
                if window - result.consumed >= MIN_WINDOW_SECONDS:
                    rest_start = request.offset + result.consumed
                    rest = audios[index][sample_index(rest_start) :]
                    more, _ = self.transcribe(
                        rest, replace(options, language=result.language), offset=rest_start
                    )
                    results[index].extend(more)
        return results


def _window_audio(audio: np.ndarray, checkpoint: Checkpoint, first: int) -> np.ndarray:
    """The window the loop decodes next; ``first``: the sample index of ``audio[0]``."""
    seek = checkpoint.seek
    end = min(checkpoint.regions[checkpoint.region][1], seek + WINDOW_SECONDS)
    return audio[sample_index(seek) - first : sample_index(end) - first]


def _same_window(encoded: EncodedWindow, request: WindowRequest) -> bool:
    return (
        encoded.seek == request.offset
        and encoded.audio.shape == request.audio.shape
        and np.array_equal(encoded.audio, request.audio)
    )


def _normalised(checkpoint: Checkpoint) -> Checkpoint:
    """Move past regions with less than a window's worth of audio left, as the loop does."""
    region, seek = checkpoint.region, checkpoint.seek
    regions = checkpoint.regions
    while region < len(regions) and regions[region][1] - seek < MIN_WINDOW_SECONDS:
        region += 1
        if region < len(regions):
            seek = regions[region][0]
    return replace(checkpoint, region=region, seek=seek)
