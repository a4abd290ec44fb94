"""What a model family is: the one interface shared code asks, never a family's name.

A family knows how to load its weights, transcribe a file, decode a live buffer, tune, and
whether it takes (or is) a forced aligner, and how it exports itself to a format another
engine runs (``export``) and loads such an export back (``load_export``).

Torch-free at import time: the table lists families in processes that never load a model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from voxtune.engine.models.info import LoadedModel, ModelInfo
    from voxtune.engine.stream.decoders import StreamDecoder
    from voxtune.engine.tune.family import TuneFamily
    from voxtune.engine.types import Checkpoint, Segment, TranscriptionInfo, TranscriptionOptions


class OfflineTranscriber(Protocol):
    """What the CLI and the job runner drive: a whole file, window by window (resumable from
    any checkpoint), or short clips together. Every family's transcriber offers this."""

    @property
    def model_name(self) -> str: ...

    def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """Segments with absolute times (``offset`` is the time of ``audio[0]``)."""
        ...

    def begin(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> Checkpoint:
        """The checkpoint before the first window (speech regions, language, prompt)."""
        ...

    def windows(
        self,
        audio: np.ndarray,
        options: TranscriptionOptions,
        checkpoint: Checkpoint,
        *,
        offset: float = 0.0,
    ) -> Iterator[tuple[list[Segment], Checkpoint]]:
        """Each window's segments and the checkpoint after it, from ``checkpoint`` on."""
        ...

    def transcribe_batch(
        self, audios: Sequence[np.ndarray], options: TranscriptionOptions
    ) -> list[list[Segment]]:
        """Short clips decoded together; times relative to each clip."""
        ...


class Family(Protocol):
    """One entry of the family table (``voxtune.engine.families.table``)."""

    name: str  # as ``ModelInfo.family`` says it: "whisper", "qwen3_asr", …
    transcribes: bool  # False: it only serves another family (a forced aligner)
    takes_aligner: bool  # True: a forced aligner may time its words

    def recognises(self, config: Mapping[str, Any]) -> bool:
        """Whether a Hugging Face folder with this ``config.json`` holds this family."""
        ...

    def folder_info(self, path: Path, config: Mapping[str, Any], source: str) -> ModelInfo | None:
        """The folder described by the family itself, or None: the generic description
        (languages from its generation config) under this family's name."""
        ...

    def load(self, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        """Weights in memory with torch, ready to decode (eval mode, on ``device``)."""
        ...

    def default_aligner(self) -> str | None:
        """The aligner used when none is named, if it is here without a download."""
        ...

    def check_request(self, info: ModelInfo, options: TranscriptionOptions) -> None:
        """VoxtuneError for what this family cannot be asked (a language, a task), before
        any weights load."""
        ...

    def offline_transcriber(
        self, loaded: LoadedModel, aligner: LoadedModel | None, *, batch_size: int
    ) -> OfflineTranscriber: ...

    def stream_decoder(
        self, loaded: LoadedModel, options: TranscriptionOptions, aligner: LoadedModel | None
    ) -> StreamDecoder: ...

    def tune_recipe(self, loaded: LoadedModel) -> TuneFamily:
        """The tuning side (examples, loss, LoRA targets); ModelError when it cannot tune."""
        ...

    def export(self, loaded: LoadedModel, out: Path, format: str) -> dict[str, Any]:
        """Write ``loaded`` (torch, float32) into the folder ``out`` as ``format`` ("onnx", or
        "gguf:<number format>" such as "gguf:q8_0"): graphs or GGUF files, tokenizer/processor
        and configs; or, for "ggml-<quantisation>" (whisper.cpp's model file), into the file
        ``out``. Returns the metadata its loader needs, with
        ``files`` (every file the export needs). ModelError when the family cannot."""
        ...

    def load_export(self, info: ModelInfo, metadata: Mapping[str, Any], device: str) -> LoadedModel:
        """An export written by ``export`` ready to decode with its engine (onnxruntime,
        llama.cpp; whisper.cpp when ``metadata["format"]`` is "ggml")."""
        ...
