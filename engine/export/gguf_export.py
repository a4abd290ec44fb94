"""``export_gguf``: a model (a base or a tune) as GGUF files llama.cpp runs, verified.

Steps: build the torch model (an adapter merged), let its family write the GGUF files and
the processor beside them, write the metadata, then re-transcribe the evaluation manifest
with torch and with llama.cpp (``export-report.json``, the same report as ONNX exports).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import ModelError
from voxtune.engine.export.gguf_files import is_gguf_export, write_metadata
from voxtune.engine.export.onnx_files import REPORT_FILE
from voxtune.engine.export.verify import DEFAULT_MANIFEST, ExportReport

DEFAULT_QUANT = "f16"


@dataclass(frozen=True)
class GgufExportRequest:
    model: str | None  # a name or folder; None: the default model (or the adapter's base)
    out: Path
    adapter: Path | None = None
    quant: str = DEFAULT_QUANT  # f32, f16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0
    manifest: Path | None = DEFAULT_MANIFEST  # None: no verification


@dataclass(frozen=True)
class GgufExport:
    files: dict[str, int]  # every file written and its size
    warnings: tuple[str, ...]
    report: ExportReport | None


def export_gguf(request: GgufExportRequest) -> GgufExport:
    """Write the export into ``request.out`` (replacing an earlier GGUF export there)."""
    from voxtune.engine.families.qwen3_asr.gguf_writer import check_quant
    from voxtune.engine.models import ModelRequest, build_model
    from voxtune.engine.models.staging import staged_folder

    check_quant(request.quant)  # before any weights load
    out = request.out
    if out.exists() and not out.is_dir():
        raise ModelError(f"{out}: not a folder (--out names the export folder)")
    if out.exists() and any(out.iterdir()) and not is_gguf_export(out):
        raise ModelError(f"{out}: not empty and not an earlier export (choose another --out)")
    ready = build_model(ModelRequest(name=request.model, adapter=request.adapter))
    # Written beside ``out`` and renamed over it: a failed export leaves the earlier one.
    with staged_folder(out) as staging:
        metadata = ready.family.export(ready.loaded, staging, f"gguf:{request.quant}")
        metadata.update(
            family=ready.family.name,
            base=ready.info.name,
            adapter=str(request.adapter) if request.adapter else None,
            languages=list(ready.info.languages),
            quantisation=request.quant,
            voxtune_version=_version(),
        )
        write_metadata(staging, metadata)
    files = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    report = None
    if request.manifest is not None:
        from voxtune.engine.export.verify import verify_export
        from voxtune.engine.types import TranscriptionOptions

        # llama.cpp decodes greedily: the source does too, so the two differ by engine only.
        report = verify_export(
            ready,
            out,
            backend="llamacpp",
            quantisation=request.quant,
            manifest=request.manifest,
            options=TranscriptionOptions(beam_size=1),
        )
        report.write(out / REPORT_FILE)
    return GgufExport(files, tuple(metadata.get("warnings", ())), report)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("voxtune")
    except PackageNotFoundError:
        return "0.1.0"
