"""Whisper's entry in the family table. Heavy modules load when a method needs them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxtune.engine.errors import ModelError

if TYPE_CHECKING:
    from voxtune.engine.families.family import OfflineTranscriber
    from voxtune.engine.models.info import LoadedModel, ModelInfo
    from voxtune.engine.stream.decoders import StreamDecoder
    from voxtune.engine.tune.family import TuneFamily
    from voxtune.engine.types import TranscriptionOptions


class Whisper:
    name = "whisper"
    transcribes = True
    takes_aligner = False  # word times come from its own cross-attention

    def recognises(self, config: Mapping[str, Any]) -> bool:
        return config.get("model_type") == "whisper"

    def folder_info(self, path: Path, config: Mapping[str, Any], source: str) -> ModelInfo | None:
        return None  # the generic description reads Whisper's languages

    def load(self, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        from voxtune.engine.families.whisper.loader import load_whisper

        return load_whisper(info, device, dtype)

    def default_aligner(self) -> str | None:
        return None

    def check_request(self, info: ModelInfo, options: TranscriptionOptions) -> None:
        return None  # the decoder checks the language against the tokenizer's own list

    def offline_transcriber(
        self, loaded: LoadedModel, aligner: LoadedModel | None, *, batch_size: int
    ) -> OfflineTranscriber:
        refuse_aligner(loaded, aligner)
        if _is_whispercpp(loaded):
            from voxtune.engine.families.whisper.whispercpp import WhisperCppTranscriber

            return WhisperCppTranscriber(loaded)
        from voxtune.engine.families.whisper.transcriber import Transcriber

        return Transcriber(loaded, batch_size=batch_size)

    def stream_decoder(
        self, loaded: LoadedModel, options: TranscriptionOptions, aligner: LoadedModel | None
    ) -> StreamDecoder:
        from voxtune.engine.families.whisper.continuation import ContinuationDecoder

        refuse_aligner(loaded, aligner)
        if _is_whispercpp(loaded):
            raise ModelError(
                f"{loaded.info.name}: live transcription runs on the torch or onnx backend; "
                f"the whispercpp backend transcribes files"
            )
        return ContinuationDecoder(loaded, options)

    def tune_recipe(self, loaded: LoadedModel) -> TuneFamily:
        if _is_whispercpp(loaded):
            raise ModelError(f"{loaded.info.name}: a ggml file cannot be tuned (tune its source)")
        from voxtune.engine.families.whisper.tune import WhisperFamily

        return WhisperFamily(loaded)

    def export(self, loaded: LoadedModel, out: Path, format: str) -> dict[str, Any]:
        if format.startswith("ggml-"):  # whisper.cpp's model file, "ggml-<quantisation>"
            from voxtune.engine.families.whisper.ggml_export import export_ggml

            return export_ggml(loaded, out, format.removeprefix("ggml-"))
        if format != "onnx":
            raise ModelError(f"{loaded.info.name}: Whisper exports to onnx or ggml, not {format}")
        from voxtune.engine.families.whisper.onnx_export import export_whisper

        return export_whisper(loaded, out)

    def load_export(self, info: ModelInfo, metadata: Mapping[str, Any], device: str) -> LoadedModel:
        if metadata.get("format") == "ggml":
            from voxtune.engine.families.whisper.whispercpp import load_whispercpp

            return load_whispercpp(info, device)
        from voxtune.engine.families.whisper.onnx_runner import load_onnx_whisper

        return load_onnx_whisper(info, dict(metadata), device)


def _is_whispercpp(loaded: LoadedModel) -> bool:
    from voxtune.engine.export.ggml_files import GGML_SOURCE

    return loaded.info.source == GGML_SOURCE


def refuse_aligner(loaded: LoadedModel, aligner: LoadedModel | None) -> None:
    """A family that times its own words refuses an aligner rather than ignore it."""
    if aligner is not None:
        raise ModelError(
            f"{aligner.info.name}: a forced aligner times Qwen3-ASR words; "
            f"{loaded.info.name} times its own"
        )


WHISPER = Whisper()
