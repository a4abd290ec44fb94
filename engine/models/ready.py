"""The one place a ready model is built: (name, backend, dtype, device, aligner) in, the
loaded model with its aligner and its family out. The CLI, the job runner, live in the CLI
and live in the app all build through ``build_model``, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.models.info import DEFAULT_MODEL

if TYPE_CHECKING:
    from voxtune.engine.families.family import Family, OfflineTranscriber
    from voxtune.engine.models.info import LoadedModel, ModelInfo
    from voxtune.engine.stream.decoders import StreamDecoder
    from voxtune.engine.stream.transcriber import StreamingTranscriber
    from voxtune.engine.stream.updates import StreamingOptions
    from voxtune.engine.types import TranscriptionOptions


@dataclass(frozen=True)
class ModelRequest:
    name: str | None = None  # a model name or folder; None: the default (or the adapter's base)
    backend: str = "torch"
    dtype: str = "float32"
    device: str = "cpu"
    aligner: str | None = None  # a name or folder; "none": none; None: the family's default
    adapter: Path | None = None  # a tune's LoRA adapter, merged into ``name`` (or its base)


@dataclass(frozen=True)
class ReadyModel:
    loaded: LoadedModel
    family: Family
    aligner: LoadedModel | None
    request: ModelRequest

    @property
    def info(self) -> ModelInfo:
        return self.loaded.info

    def offline_transcriber(self, batch_size: int = 8) -> OfflineTranscriber:
        return self.family.offline_transcriber(self.loaded, self.aligner, batch_size=batch_size)

    def stream_decoder(self, options: TranscriptionOptions) -> StreamDecoder:
        return self.family.stream_decoder(self.loaded, options, self.aligner)

    def streaming_transcriber(
        self, options: StreamingOptions | None = None
    ) -> StreamingTranscriber:
        from voxtune.engine.stream import StreamingOptions, StreamingTranscriber

        options = options or StreamingOptions()
        return StreamingTranscriber(
            self.loaded, options, decoder=self.stream_decoder(options.transcription)
        )


def build_model(request: ModelRequest, options: TranscriptionOptions | None = None) -> ReadyModel:
    """Resolve, check ``options`` against the family (before any weights load: a typo costs
    a moment), load with the backend, then the aligner. ModelError names what is wrong."""
    from voxtune.engine.backends import backend_named
    from voxtune.engine.export.ggml_files import GGML_SOURCE
    from voxtune.engine.export.gguf_files import GGUF_SOURCE
    from voxtune.engine.export.onnx_files import ONNX_SOURCE
    from voxtune.engine.families.table import family_of
    from voxtune.engine.models.aligners import load_aligner
    from voxtune.engine.models.loader import check_placement
    from voxtune.engine.models.registry import resolve_model

    backend = backend_named(request.backend)
    check_placement(request.device, request.dtype)
    if request.adapter is not None:
        from voxtune.engine.tune import load_with_adapter

        loaded = load_with_adapter(request.adapter, base=request.name, device=request.device)
        family = family_of(loaded.info)
        if options is not None:
            family.check_request(loaded.info, options)
    else:
        info = resolve_model(request.name or DEFAULT_MODEL)
        if info.source == ONNX_SOURCE:  # an export runs on the engine it was made for
            backend = backend_named("onnx")
        elif info.source == GGUF_SOURCE:
            backend = backend_named("llamacpp")
        elif info.source == GGML_SOURCE:
            backend = backend_named("whispercpp")
        family = family_of(info)
        if options is not None:
            family.check_request(info, options)
        loaded = backend.load(family, info, request.device, request.dtype)
    aligner = load_aligner(loaded, request.aligner, request.device)
    return ReadyModel(loaded=loaded, family=family, aligner=aligner, request=request)
