"""The export formats the app offers, one table entry each, and what a finished export says.

Torch-free, so the UI builds its Export buttons from ``EXPORT_FORMATS`` and the protocol
carries ``ExportSummary``. An entry names its exporter as ``module:function`` (imported in
the engine only, when used), called as ``exporter(model, adapter, out)``: it writes the export
into ``out`` and verifies it, leaving ``export-report.json`` there (``verify.ExportReport``).
A new format (GGUF, ggml) is one more entry and its exporter function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import VoxtuneError

REPORT_FILE = "export-report.json"  # written by every exporter beside its files


@dataclass(frozen=True, slots=True)
class ExportFormat:
    name: str  # the protocol's and the CLI's word: ``voxtune export NAME``
    label: str  # the button's text
    runs_on: str  # the engine that runs the export (the button's tooltip)
    exporter: str  # "module:function", imported in the engine process only


EXPORT_FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat(
        name="onnx",
        label="ONNX",
        runs_on="onnxruntime (fast on CPUs)",
        exporter="voxtune.engine.export.onnx_export:export_for_app",
    ),
)


def export_format(name: str) -> ExportFormat:
    for entry in EXPORT_FORMATS:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in EXPORT_FORMATS)
    raise VoxtuneError(f"export {name!r}: not a format Voxtune exports (choose from {known})")


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """The numbers of ``export-report.json``: the source model and its export on one set."""

    wer_source: float
    wer_export: float
    export_bytes: int
    source_bytes: int
    rtf_source: float
    rtf_export: float
    quantisation: str
    manifest: str

    @property
    def wer_increase_points(self) -> float:
        return 100 * (self.wer_export - self.wer_source)


def read_export_report(out: Path) -> ExportSummary:
    path = out / REPORT_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        return ExportSummary(
            wer_source=float(report["source"]["wer"]),
            wer_export=float(report["export"]["wer"]),
            export_bytes=int(report["export_bytes"]),
            source_bytes=int(report["source_bytes"]),
            rtf_source=float(report["source"]["rtf"]),
            rtf_export=float(report["export"]["rtf"]),
            quantisation=str(report.get("quantisation", "")),
            manifest=str(report.get("manifest", "")),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VoxtuneError(f"{path}: no readable export report ({exc})") from None
