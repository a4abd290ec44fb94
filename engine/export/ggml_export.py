"""``export_ggml``: a model (a base or a tune) as whisper.cpp's model file, read back and
verified by whisper.cpp itself.

Steps: build the torch model (an adapter merged), let its family write the file at the
chosen number format, read the file back (every tensor whisper.cpp will ask for, whole),
then re-transcribe the evaluation manifest with torch and with whisper.cpp
(``FILE.export-report.json``, the ONNX export's report format).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import ModelError
from voxtune.engine.export.ggml_files import (
    QUANTISATIONS,
    GgmlFile,
    is_ggml_file,
    read_ggml,
    report_path,
)
from voxtune.engine.export.verify import DEFAULT_MANIFEST, ExportReport

WHISPERCPP = "whispercpp"  # the backend that runs the file


@dataclass(frozen=True)
class GgmlExportRequest:
    model: str | None  # a name or folder; None: the default model (or the adapter's base)
    out: Path  # the model file
    adapter: Path | None = None
    quantisation: str = "f16"
    manifest: Path | None = DEFAULT_MANIFEST  # None: no verification
    beam_size: int = 5


@dataclass(frozen=True)
class GgmlExport:
    file: GgmlFile  # as read back
    report: ExportReport | None


def export_ggml(request: GgmlExportRequest) -> GgmlExport:
    """Write ``request.out`` (replacing an earlier ggml file there) and verify it."""
    from voxtune.engine.models import ModelRequest, build_model

    if request.quantisation not in QUANTISATIONS:
        raise ModelError(f"--quant {request.quantisation}: choose from {', '.join(QUANTISATIONS)}")
    out = request.out
    if out.is_dir():
        raise ModelError(f"{out}: a folder (a ggml export is one file: --out FILE)")
    if out.exists() and not is_ggml_file(out):
        raise ModelError(f"{out}: exists and is not a ggml model (choose another --out)")
    ready = build_model(ModelRequest(name=request.model, adapter=request.adapter))
    ready.family.export(ready.loaded, out, f"ggml-{request.quantisation}")
    file = read_ggml(out)
    if file.hparams.quantisation != request.quantisation:
        raise ModelError(f"{out}: written as {file.hparams.quantisation}, "
                         f"not {request.quantisation}")  # fmt: skip
    report = None
    if request.manifest is not None:
        report = verify_ggml(ready, out, request)
        report.write(report_path(out))
    return GgmlExport(file, report)


def verify_ggml(ready, out: Path, request: GgmlExportRequest) -> ExportReport:  # type: ignore[no-untyped-def]
    from voxtune.engine.export.verify import score
    from voxtune.engine.models import ModelRequest, build_model
    from voxtune.engine.models.manifest import directory_size
    from voxtune.engine.types import TranscriptionOptions

    assert request.manifest is not None
    options = TranscriptionOptions(beam_size=request.beam_size)
    multilingual = ready.info.multilingual
    source = score(ready.offline_transcriber(), request.manifest, options, multilingual)
    exported = build_model(ModelRequest(name=str(out), backend=WHISPERCPP))
    export = score(exported.offline_transcriber(), request.manifest, options, multilingual)
    size = out.stat().st_size
    return ExportReport(
        model=ready.info.name,
        family=ready.family.name,
        quantisation=request.quantisation,
        manifest=str(request.manifest),
        source=source,
        export=export,
        source_bytes=directory_size(ready.info.location),
        export_bytes=size,
        files={out.name: size},
        engine=WHISPERCPP,
    )
