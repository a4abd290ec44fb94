"""``export_onnx``: a model (a base or a tune) to an ONNX folder, checked and verified.

Steps: build the torch model (an adapter merged), let its family write the graphs and the
files beside them, quantise, ``onnx.checker`` every graph, write the metadata, then
re-transcribe the evaluation manifest with both engines (``export-report.json``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import ModelError
from voxtune.engine.export.onnx_files import (
    OPSET,
    REPORT_FILE,
    check_graphs,
    quantise_int8,
    write_metadata,
)
from voxtune.engine.export.verify import DEFAULT_MANIFEST, ExportReport

QUANTISATIONS = ("float32", "int8")
# Worse than the source by more than this many WER points, an export is called a failure.
WER_TOLERANCE_POINTS = 1.0


@dataclass(frozen=True)
class OnnxExportRequest:
    model: str | None  # a name or folder; None: the default model (or the adapter's base)
    out: Path
    adapter: Path | None = None
    quantize: str = "float32"
    manifest: Path | None = DEFAULT_MANIFEST  # None: no verification
    beam_size: int = 5


def export_onnx(request: OnnxExportRequest) -> ExportReport | None:
    """Write the export into ``request.out`` (replacing an earlier export there) and return
    its verification report (None when ``manifest`` is None)."""
    from voxtune.engine.models import ModelRequest, build_model

    if request.quantize not in QUANTISATIONS:
        raise ModelError(f"--quantize {request.quantize}: choose from {', '.join(QUANTISATIONS)}")
    out = request.out
    replace_earlier = out.exists() and any(out.iterdir())
    if replace_earlier:  # refused before the model loads, not after
        from voxtune.engine.export.onnx_files import is_onnx_export

        if not is_onnx_export(out):
            raise ModelError(f"{out}: not empty and not an earlier export (choose another --out)")
    ready = build_model(ModelRequest(name=request.model, adapter=request.adapter))
    if replace_earlier:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    metadata = ready.family.export(ready.loaded, out, "onnx")
    graphs = list(metadata.pop("graphs"))
    if request.quantize == "int8":
        # A family may ask for per-tensor scales where they measure better for it.
        quantise_int8(out, graphs, per_channel=bool(metadata.get("int8_per_channel", True)))
        # Float weights kept beside a graph over 2 GB are gone now (its int8 graph is smaller).
        metadata["files"] = [name for name in metadata["files"] if (out / name).is_file()]
    check_graphs(out, graphs)
    metadata.update(
        family=ready.family.name,
        base=ready.info.name,
        adapter=str(request.adapter) if request.adapter else None,
        languages=list(ready.info.languages),
        quantisation=request.quantize,
        opset=OPSET,
        voxtune_version=_version(),
        graphs=graphs,
    )
    write_metadata(out, metadata)
    if request.manifest is None:
        return None
    report = verify_export(ready, out, request)
    report.write(out / REPORT_FILE)
    return report


def export_for_app(model: str | None, adapter: Path | None, out: Path) -> None:
    """The app's ONNX button (``formats.EXPORT_FORMATS``): float32, verified on the shipped set."""
    export_onnx(OnnxExportRequest(model=model, out=out, adapter=adapter))


def verify_export(ready, out: Path, request: OnnxExportRequest) -> ExportReport:  # type: ignore[no-untyped-def]
    from voxtune.engine.export.verify import verify_export as verify
    from voxtune.engine.types import TranscriptionOptions

    assert request.manifest is not None
    options = TranscriptionOptions(beam_size=request.beam_size)
    return verify(
        ready,
        out,
        backend="onnx",
        quantisation=request.quantize,
        manifest=request.manifest,
        options=options,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("voxtune")
    except PackageNotFoundError:
        return "0.1.0"
