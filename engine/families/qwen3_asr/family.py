"""Qwen3-ASR's entry in the family table. Heavy modules load when a method needs them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.layout import QWEN3_ASR as NAME
from voxtune.engine.families.qwen3_asr.layout import qwen3_family

if TYPE_CHECKING:
    from voxtune.engine.families.family import OfflineTranscriber
    from voxtune.engine.models.info import LoadedModel, ModelInfo
    from voxtune.engine.stream.decoders import StreamDecoder
    from voxtune.engine.tune.family import TuneFamily
    from voxtune.engine.types import TranscriptionOptions


class Qwen3Asr:
    name = NAME
    transcribes = True
    takes_aligner = True  # it gives no times itself; a Qwen3-ForcedAligner measures them

    def recognises(self, config: Mapping[str, Any]) -> bool:
        return qwen3_family(dict(config)) == NAME

    def folder_info(self, path: Path, config: Mapping[str, Any], source: str) -> ModelInfo | None:
        from voxtune.engine.families.qwen3_asr.registry import qwen3_folder_info

        return qwen3_folder_info(path, path.name, source)

    def load(self, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        from voxtune.engine.families.qwen3_asr.loader import load_qwen3

        return load_qwen3(info, device, dtype)

    def default_aligner(self) -> str | None:
        """The registry's aligner when it is already downloaded: never a download nobody
        asked for."""
        from voxtune.engine.families.qwen3_asr.registry import DEFAULT_ALIGNER, resolve_qwen3

        try:
            resolve_qwen3(DEFAULT_ALIGNER, download=False)
        except ModelError:
            return None
        return DEFAULT_ALIGNER

    def check_request(self, info: ModelInfo, options: TranscriptionOptions) -> None:
        from voxtune.engine.families.qwen3_asr.transcriber import check_request

        check_request(info.name, options, info.languages)

    def offline_transcriber(
        self, loaded: LoadedModel, aligner: LoadedModel | None, *, batch_size: int
    ) -> OfflineTranscriber:
        if _is_export(loaded):
            from voxtune.engine.families.qwen3_asr.onnx_runner import Qwen3OnnxTranscriber

            return Qwen3OnnxTranscriber(loaded, aligner, batch_size=batch_size)
        from voxtune.engine.families.qwen3_asr.transcriber import Qwen3Transcriber

        if _on_llamacpp(loaded):
            from voxtune.engine.families.qwen3_asr.llamacpp_transcriber import (
                LlamaCppQwen3Transcriber,
            )

            return LlamaCppQwen3Transcriber(loaded, aligner, batch_size=batch_size)
        return Qwen3Transcriber(loaded, aligner, batch_size=batch_size)

    def stream_decoder(
        self, loaded: LoadedModel, options: TranscriptionOptions, aligner: LoadedModel | None
    ) -> StreamDecoder:
        if _is_export(loaded):
            # The continuation decoder reuses transformers' cache objects between calls.
            raise ModelError(
                f"{loaded.info.name}: live dictation does not run Qwen3-ASR ONNX exports yet "
                "(use the source model with --backend torch)"
            )
        from voxtune.engine.families.qwen3_asr.continuation import Qwen3ContinuationDecoder

        if _on_llamacpp(loaded):
            raise ModelError(f"{loaded.info.name}: live transcription runs on the torch backend")

        return Qwen3ContinuationDecoder(loaded, options, aligner)

    def tune_recipe(self, loaded: LoadedModel) -> TuneFamily:
        from voxtune.engine.families.qwen3_asr.tune import Qwen3Family

        if _on_llamacpp(loaded):
            raise ModelError(f"{loaded.info.name}: a GGUF export does not tune (tune the source)")

        return Qwen3Family(loaded)

    def export(self, loaded: LoadedModel, out: Path, format: str) -> dict[str, Any]:
        kind, _, quant = format.partition(":")
        if kind == "onnx":
            from voxtune.engine.families.qwen3_asr.onnx_export import export_qwen3

            return export_qwen3(loaded, out)
        if kind == "gguf":
            from voxtune.engine.families.qwen3_asr.gguf_export import export_qwen3_gguf

            return export_qwen3_gguf(loaded, out, quant or "f16")
        raise ModelError(f"{loaded.info.name}: Qwen3-ASR exports to onnx or gguf, not {format}")

    def load_export(self, info: ModelInfo, metadata: Mapping[str, Any], device: str) -> LoadedModel:
        if metadata.get("format") == "gguf":
            from voxtune.engine.families.qwen3_asr.gguf_export import load_gguf_qwen3

            return load_gguf_qwen3(info, metadata, device)
        from voxtune.engine.families.qwen3_asr.onnx_runner import load_onnx_qwen3

        return load_onnx_qwen3(info, dict(metadata), device)


def _is_export(loaded: LoadedModel) -> bool:
    from voxtune.engine.export.onnx_files import ONNX_SOURCE

    return loaded.info.source == ONNX_SOURCE


def _on_llamacpp(loaded: LoadedModel) -> bool:
    from voxtune.engine.export.gguf_files import GGUF_SOURCE

    return loaded.info.source == GGUF_SOURCE


QWEN3_ASR = Qwen3Asr()
