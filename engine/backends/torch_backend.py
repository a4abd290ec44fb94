"""The torch backend: the family loads its weights with transformers, kept in the model cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxtune.engine.families.family import Family
    from voxtune.engine.models.info import LoadedModel, ModelInfo


class TorchBackend:
    name = "torch"

    def load(self, family: Family, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        # The shared loader checks dtype and device, keeps it in the cache, asks ``family.load``.
        from voxtune.engine.models.loader import load_resolved

        return load_resolved(info, device, dtype)


TORCH = TorchBackend()
