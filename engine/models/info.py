"""What the rest of Voxtune knows about a model: ``ModelInfo`` and ``LoadedModel``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

DEFAULT_MODEL = "whisper-tiny.en"


@dataclass(frozen=True)
class ModelInfo:
    name: str  # "whisper-tiny.en"
    family: str  # "whisper"
    languages: tuple[str, ...]  # ("en",) for .en models; every code for multilingual ones
    size_bytes: int  # on disk
    location: Path  # Hugging Face layout directory
    source: str  # "embedded" | "imported" | "hub" | "local"

    @property
    def multilingual(self) -> bool:
        return len(self.languages) > 1


@dataclass
class LoadedModel:
    info: ModelInfo
    model: WhisperForConditionalGeneration  # eval mode, on ``device``
    processor: WhisperProcessor  # feature extractor + tokenizer
    device: str  # "cpu" | "cuda"
    dtype: torch.dtype
