"""The onnx backend: an export folder (``voxtune export onnx``) run by onnxruntime.

The family loads it (``Family.load_export``) and decodes it with the same code as torch, so
the Transcript has the same shape: words, times, confidences. Any other model is exported
once, the first time the onnx backend is asked for it, into the model store's ``onnx``
folder (float32, or int8 for ``--dtype int8``), and run from there afterwards: the backend
chosen in Settings or by ``--backend onnx`` then works for every model the store lists.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxtune.engine.families.family import Family
    from voxtune.engine.models.info import LoadedModel, ModelInfo

CACHE_FOLDER = "onnx"  # under the model store (engine.home.models_dir())


def cached_export_folder(info: ModelInfo, dtype: str) -> Path:
    """Where the automatic export of ``info`` at ``dtype`` lives."""
    from voxtune.engine.home import models_dir

    quantisation = "int8" if dtype == "int8" else "float32"
    # A folder model's name may be a path: keep only characters safe in one file name.
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", info.name).strip("._") or "model"
    return models_dir() / CACHE_FOLDER / f"{safe}-{quantisation}"


def export_once(info: ModelInfo, dtype: str) -> Path:
    """The export of ``info`` in the model store, written now when it is not there yet.

    Written into a temporary folder beside it and renamed into place, so an interrupted
    export (or a second process exporting the same model) never leaves a half folder that
    looks like an export."""
    from voxtune.engine.export.onnx_export import OnnxExportRequest, export_onnx
    from voxtune.engine.export.onnx_files import is_onnx_export

    folder = cached_export_folder(info, dtype)
    if is_onnx_export(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        quantisation = "int8" if dtype == "int8" else "float32"
        request = OnnxExportRequest(
            info.name, staging / "export", quantize=quantisation, manifest=None
        )
        export_onnx(request)
        if is_onnx_export(folder):  # another process finished first: keep its export
            return folder
        os.replace(staging / "export", folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


class OnnxBackend:
    name = "onnx"

    def load(self, family: Family, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        from voxtune.engine.export.onnx_files import is_onnx_export, onnx_export_info, read_metadata

        if not is_onnx_export(info.location):
            # ModelError from the family when it cannot be exported (it names the family).
            info = onnx_export_info(export_once(info, dtype), info.name)
        # The export's own quantisation decides its number format; ``dtype`` is the torch
        # backend's choice and only picks which automatic export is made.
        return family.load_export(info, read_metadata(info.location), device)


ONNX = OnnxBackend()
