"""``voxtune export onnx MODEL --out DIR``: a model (a base or a tune) as an ONNX folder.

The export verifies itself: the source model and the export re-transcribe an evaluation
manifest (``--eval``; by default a few FLEURS clips shipped with Voxtune) and
``export-report.json`` beside the files says WER, sizes and real-time factor.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxtune.engine.export.verify import ExportReport


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model to ONNX, GGUF or whisper.cpp ggml", description=__doc__
    )
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    onnx = formats.add_parser("onnx", help="ONNX graphs for onnxruntime", description=__doc__)
    add_source_arguments(onnx, out_help="the export folder")
    onnx.add_argument("--quantize", choices=("int8",), default=None, help="weights as int8")
    add_verification_arguments(onnx)
    onnx.add_argument("--beam-size", type=int, default=5)
    onnx.set_defaults(func=run)
    from voxtune.app.cli.export_gguf import register_gguf

    register_gguf(formats)

    from voxtune.app.cli.export_ggml import register_ggml

    register_ggml(formats)


def run(args: argparse.Namespace) -> int:
    from voxtune.engine.export.onnx_export import OnnxExportRequest, export_onnx

    request = OnnxExportRequest(
        model=args.model,
        out=args.out,
        adapter=args.adapter,
        quantize=args.quantize or "float32",
        manifest=verification_manifest(args),
        beam_size=args.beam_size,
    )
    report = export_onnx(request)
    print(f"exported to {args.out}")
    return report_exit(report, strict=args.strict)


def add_source_arguments(parser: argparse.ArgumentParser, *, out_help: str) -> None:
    """What every export format takes first: the model, where to write, an adapter."""
    parser.add_argument("model", nargs="?", default=None, help="model name or folder")
    parser.add_argument("--out", type=Path, required=True, help=out_help)
    parser.add_argument("--adapter", type=Path, default=None, help="a LoRA adapter, merged first")


def add_verification_arguments(parser: argparse.ArgumentParser) -> None:
    """The self-check every export runs (engine/export/verify.py), one set of options."""
    parser.add_argument(
        "--eval", type=Path, default=None, metavar="MANIFEST", help="verification manifest"
    )
    parser.add_argument("--no-eval", action="store_true", help="skip the verification")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when the export's WER is worse than the source's by more than 1 point",
    )


def verification_manifest(args: argparse.Namespace) -> Path | None:
    from voxtune.engine.export.verify import DEFAULT_MANIFEST

    return None if args.no_eval else (args.eval or DEFAULT_MANIFEST)


def report_exit(report: ExportReport | None, *, strict: bool) -> int:
    """Print the verification table; an export worse than the source by more than the
    tolerance warns, and fails under ``--strict``."""
    from voxtune.engine.export.onnx_export import WER_TOLERANCE_POINTS

    if report is None:
        return 0
    print(report.table())
    worse = report.wer_increase_points
    if worse > WER_TOLERANCE_POINTS:
        print(
            f"WARNING: the export's WER is {worse:.2f} points worse than the source's "
            f"(tolerance {WER_TOLERANCE_POINTS:.1f})",
            file=sys.stderr,
        )
        return 1 if strict else 0
    return 0
