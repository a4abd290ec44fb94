"""The onnx backend: an export folder (``voxtune export onnx``) run by onnxruntime.

The family loads it (``Family.load_export``) and decodes it with the same code as torch, so
the Transcript has the same shape: words, times, confidences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError

if TYPE_CHECKING:
    from voxtune.engine.families.family import Family
    from voxtune.engine.models.info import LoadedModel, ModelInfo


class OnnxBackend:
    name = "onnx"

    def load(self, family: Family, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        from voxtune.engine.export.onnx_files import is_onnx_export, read_metadata

        if not is_onnx_export(info.location):
            raise ModelError(
                f"{info.name}: not an ONNX export (make one with "
                f"`voxtune export onnx {info.name} --out DIR`, then pass --model DIR)"
            )
        # The export's own quantisation decides its number format; ``dtype`` is the torch
        # backend's choice and is not applied here.
        return family.load_export(info, read_metadata(info.location), device)


ONNX = OnnxBackend()
