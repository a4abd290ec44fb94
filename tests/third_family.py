"""A third model family, defined in the test suite and added to the family table from here
(``VOXTUNE_FAMILIES=third_family:TICKS`` with this folder on PYTHONPATH, or
``register_family``): nothing in Voxtune's own code names it.

Its folders are tiny Whisper checkpoints that carry a marker in ``config.json``; it loads the
weights through Whisper's loader, but transcribes in its own, plainly recognisable way: one
segment per speech region (silero-vad, as the real families), one " tick" per second of it.
Live, its decoder hears one " tick" per whole second in the buffer, so the commit policy
commits ticks as consecutive decodes agree on them.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from voxtune.engine.errors import ModelError, VoxtuneError
from voxtune.engine.models.info import LoadedModel, ModelInfo
from voxtune.engine.stream.decoders import Hypothesis
from voxtune.engine.transcribe.vad import VadOptions, speech_regions
from voxtune.engine.types import (
    Checkpoint,
    Segment,
    TranscriptionInfo,
    TranscriptionOptions,
    Word,
)

NAME = "ticks"
MARKER = "voxtune_test_family"  # the config.json key that says a folder is ours
RATE = 16000
TICK = " tick"


def make_ticks_folder(tiny_whisper: Path, target: Path) -> Path:
    """A copy of the tiny Whisper fixture marked as a folder of this family."""
    shutil.copytree(tiny_whisper, target)
    config = json.loads((target / "config.json").read_text())
    config[MARKER] = NAME
    (target / "config.json").write_text(json.dumps(config))
    return target


def ticks(start: float, end: float) -> tuple[Word, ...]:
    count = max(1, math.floor(end - start))
    step = (end - start) / count
    return tuple(Word(TICK, start + i * step, start + (i + 1) * step, 1.0) for i in range(count))


class TickTranscriber:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    @property
    def model_name(self) -> str:
        return self.loaded.info.name

    def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        checkpoint = self.begin(audio, options, offset=offset)
        info = TranscriptionInfo("en", 1.0, offset + len(audio) / RATE, self.model_name, options)
        windows = self.windows(audio, options, checkpoint, offset=offset)
        return (s for segments, _ in windows for s in segments), info

    def begin(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> Checkpoint:
        regions = speech_regions(audio, VadOptions()) if options.vad else [(0, len(audio) / RATE)]
        shifted = tuple((offset + a, offset + b) for a, b in regions)
        return Checkpoint(shifted, 0, shifted[0][0] if shifted else offset, (), "en")

    def windows(
        self,
        audio: np.ndarray,
        options: TranscriptionOptions,
        checkpoint: Checkpoint,
        *,
        offset: float = 0.0,
    ) -> Iterator[tuple[list[Segment], Checkpoint]]:
        while not checkpoint.finished:
            start, end = checkpoint.regions[checkpoint.region]
            words = ticks(start, end)
            segment = Segment(start, end, "".join(w.text for w in words), words, "en")
            following = checkpoint.region + 1
            seek = checkpoint.regions[following][0] if following < len(checkpoint.regions) else end
            checkpoint = replace(checkpoint, region=following, seek=seek)
            yield [segment], checkpoint

    def transcribe_batch(
        self, audios: Sequence[np.ndarray], options: TranscriptionOptions
    ) -> list[list[Segment]]:
        return [list(self.transcribe(audio, options)[0]) for audio in audios]


class TickDecoder:
    def decode(
        self,
        audio: np.ndarray,
        offset: float,
        *,
        prompt: Sequence[int] = (),
        prefix: Sequence[int] = (),
        draft: Sequence[int] = (),
    ) -> Hypothesis:
        whole = int(len(audio) / RATE)
        # One token a tick: the committed ticks in the buffer are ``prefix``; the rest follow.
        heard = range(len(prefix), whole)
        words = tuple(Word(TICK, offset + i, offset + i + 1, 1.0) for i in heard)
        return Hypothesis(words, tuple((i,) for i in heard), 0.0, 0, len(words), 0.0)


class Ticks:
    name = NAME
    transcribes = True
    takes_aligner = False

    def recognises(self, config: Mapping[str, Any]) -> bool:
        return config.get(MARKER) == NAME

    def folder_info(self, path: Path, config: Mapping[str, Any], source: str) -> ModelInfo | None:
        return None

    def load(self, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        from voxtune.engine.families.whisper.loader import load_whisper

        return load_whisper(info, device, dtype)

    def default_aligner(self) -> str | None:
        return None

    def check_request(self, info: ModelInfo, options: TranscriptionOptions) -> None:
        if options.task != "transcribe":
            raise VoxtuneError(f"{info.name}: ticks only transcribe")

    def offline_transcriber(
        self, loaded: LoadedModel, aligner: LoadedModel | None, *, batch_size: int
    ) -> TickTranscriber:
        return TickTranscriber(loaded)

    def stream_decoder(
        self, loaded: LoadedModel, options: TranscriptionOptions, aligner: LoadedModel | None
    ) -> TickDecoder:
        return TickDecoder()

    def tune_recipe(self, loaded: LoadedModel):  # type: ignore[no-untyped-def]
        raise ModelError(f"{loaded.info.name}: ticks are not tuned")

    def export(self, loaded: LoadedModel, out: Path, format: str) -> dict[str, Any]:
        raise ModelError(f"{loaded.info.name}: ticks are not exported")

    def load_export(self, info: ModelInfo, metadata: Mapping[str, Any], device: str) -> LoadedModel:
        raise ModelError(f"{info.location}: ticks are not exported")


TICKS = Ticks()
