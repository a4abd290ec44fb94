"""The table of backends and the interface each entry offers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from voxtune.engine.backends.llamacpp_backend import LLAMACPP
from voxtune.engine.backends.onnx_backend import ONNX
from voxtune.engine.backends.torch_backend import TORCH
from voxtune.engine.backends.whispercpp_backend import WHISPERCPP
from voxtune.engine.errors import ModelError

if TYPE_CHECKING:
    from voxtune.engine.families.family import Family
    from voxtune.engine.models.info import LoadedModel, ModelInfo


class Backend(Protocol):
    name: str

    def load(self, family: Family, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        """``info``'s weights ready to decode with this backend on ``device``."""
        ...


BACKENDS: dict[str, Backend] = {
    backend.name: backend for backend in (TORCH, ONNX, LLAMACPP, WHISPERCPP)
}


def backend_named(name: str) -> Backend:
    if name not in BACKENDS:
        raise ModelError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    return BACKENDS[name]
