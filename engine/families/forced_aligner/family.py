"""Qwen3-ForcedAligner's entry in the family table: it loads, and times another family's
words (``aligner.py``), but transcribes, streams and tunes nothing itself."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.layout import FORCED_ALIGNER as NAME
from voxtune.engine.families.qwen3_asr.layout import qwen3_family

if TYPE_CHECKING:
    from voxtune.engine.models.info import LoadedModel, ModelInfo
    from voxtune.engine.types import TranscriptionOptions


class Qwen3ForcedAligner:
    name = NAME
    transcribes = False
    takes_aligner = False

    def recognises(self, config: Mapping[str, Any]) -> bool:
        return qwen3_family(dict(config)) == NAME

    def folder_info(self, path: Path, config: Mapping[str, Any], source: str) -> ModelInfo | None:
        from voxtune.engine.families.qwen3_asr.registry import qwen3_folder_info

        return qwen3_folder_info(path, path.name, source)

    def load(self, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        from voxtune.engine.families.qwen3_asr.loader import load_qwen3

        return load_qwen3(info, device, dtype)

    def default_aligner(self) -> str | None:
        return None

    def check_request(self, info: ModelInfo, options: TranscriptionOptions) -> NoReturn:
        _refuse(info.name)

    def offline_transcriber(
        self, loaded: LoadedModel, aligner: LoadedModel | None, *, batch_size: int
    ) -> NoReturn:
        _refuse(loaded.info.name)

    def stream_decoder(
        self, loaded: LoadedModel, options: TranscriptionOptions, aligner: LoadedModel | None
    ) -> NoReturn:
        _refuse(loaded.info.name)

    def tune_recipe(self, loaded: LoadedModel) -> NoReturn:
        raise ModelError(
            f"{loaded.info.name}: tuning supports Whisper and Qwen3-ASR models (not {NAME})"
        )

    def export(self, loaded: LoadedModel, out: Path, format: str) -> NoReturn:
        raise ModelError(f"{loaded.info.name}: {NAME} does not export to {format}")

    def load_export(self, info: ModelInfo, metadata: Mapping[str, Any], device: str) -> NoReturn:
        raise ModelError(f"{info.location}: {NAME} exports are not supported")


def _refuse(name: str) -> NoReturn:
    raise ModelError(
        f"{name}: a forced aligner times words but does not transcribe "
        "(pass it as --aligner with a Qwen3-ASR model)"
    )


FORCED_ALIGNER = Qwen3ForcedAligner()
