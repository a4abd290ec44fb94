"""Core result and option types, carried end to end.

Torch-free on purpose: the UI process and the protocol import these. Times are seconds
(float) everywhere inside Voxtune; milliseconds appear only in file formats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Word:
    """One word as the model wrote it.

    ``text`` keeps its leading space exactly as the tokenizer produced it (" hello"), so
    ``"".join(w.text for w in words)`` rebuilds the segment text in every script, including
    those written without spaces.
    """

    text: str
    start: float
    end: float
    confidence: float  # in [0, 1]: geometric mean of the word's token probabilities


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None
    # Decoding statistics, for filtering and for callers that want them.
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0
    temperature: float = 0.0


@dataclass(frozen=True, slots=True)
class TranscriptionOptions:
    """Everything that changes what a transcription produces; one object, not keyword soup."""

    language: str | None = None  # None: detect (multilingual models); forced otherwise
    task: str = "transcribe"  # or "translate" (to English, multilingual Whisper)
    beam_size: int = 5
    # Fallback: when a window's output looks like a loop or is unlikely, decode it again
    # at the next temperature (sampling), as openai-whisper does.
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    condition_on_previous_text: bool = True
    initial_prompt: str | None = None
    word_timestamps: bool = True
    vad: bool = True  # skip non-speech with silero-vad before decoding

    def __post_init__(self) -> None:
        if not 1 <= self.beam_size <= 5:
            raise ValueError(f"beam size must be between 1 and 5, not {self.beam_size}")
        if self.task not in ("transcribe", "translate"):
            raise ValueError(f"task must be 'transcribe' or 'translate', not {self.task!r}")


@dataclass(frozen=True, slots=True)
class TranscriptionInfo:
    """What a transcription was run with and what it found; embeds the resolved options."""

    language: str | None
    language_probability: float
    duration: float  # seconds of input audio
    model: str
    options: TranscriptionOptions = field(default_factory=TranscriptionOptions)


@dataclass(frozen=True, slots=True)
class Transcript:
    segments: tuple[Segment, ...]
    language: str | None
    duration: float
    model: str

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.segments for w in s.words)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a long-form transcription stands between two windows (absolute seconds).

    Persisted with each window's segments, so a job resumed from it decodes exactly the
    windows an uninterrupted run would have decoded.
    """

    regions: tuple[tuple[float, float], ...]  # speech, from VAD over the whole file
    region: int  # index of the region the next window is in; len(regions) when done
    seek: float  # where the next window starts
    prompt: tuple[int, ...]  # conditioning tokens for the next window
    language: str | None
    # Qwen3-ASR: leading words of the next chunk that the chunk before it already gave.
    skip_words: int = 0

    @property
    def finished(self) -> bool:
        return self.region >= len(self.regions)

    def to_json(self) -> str:
        return json.dumps(
            {
                "regions": self.regions,
                "region": self.region,
                "seek": self.seek,
                "prompt": self.prompt,
                "language": self.language,
                "skip_words": self.skip_words,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        values = json.loads(text)
        return cls(
            regions=tuple((float(a), float(b)) for a, b in values["regions"]),
            region=int(values["region"]),
            seek=float(values["seek"]),
            prompt=tuple(int(t) for t in values["prompt"]),
            language=values["language"],
            skip_words=int(values.get("skip_words", 0)),
        )
