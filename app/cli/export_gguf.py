"""``voxtune export gguf MODEL --out DIR [--quant f16]``: a Qwen3-ASR model (a base or a tune)
as GGUF files llama.cpp runs: ``model.gguf`` (the text decoder) and ``mmproj.gguf`` (the audio
encoder and projector, for libmtmd), with the tokenizer and chat template in the metadata.

The export verifies itself as the ONNX one does: torch and llama.cpp re-transcribe an
evaluation manifest, and ``export-report.json`` says WER, sizes and real-time factor.
"""

from __future__ import annotations

import argparse
import sys

from voxtune.app.cli.export import (
    add_source_arguments,
    add_verification_arguments,
    report_exit,
    verification_manifest,
)


def register_gguf(formats: argparse._SubParsersAction) -> None:
    gguf = formats.add_parser("gguf", help="GGUF files for llama.cpp", description=__doc__)
    add_source_arguments(gguf, out_help="the export folder")
    gguf.add_argument(
        "--quant",
        default="f16",
        metavar="TYPE",
        help="number format: f32, f16 (default), bf16, q8_0, q5_1, q5_0, q4_1, q4_0",
    )
    add_verification_arguments(gguf)
    gguf.set_defaults(func=run_gguf)


def run_gguf(args: argparse.Namespace) -> int:
    from voxtune.engine.export.gguf_export import GgufExportRequest, export_gguf

    request = GgufExportRequest(
        model=args.model,
        out=args.out,
        adapter=args.adapter,
        quant=args.quant,
        manifest=verification_manifest(args),
    )
    result = export_gguf(request)
    print(f"exported to {args.out}")
    for name, size in result.files.items():
        if name.endswith(".gguf"):
            print(f"  {name:<14}{size / 1e6:>10.1f} MB")
    print(f"  {'all files':<14}{sum(result.files.values()) / 1e6:>10.1f} MB")
    for warning in result.warnings:
        print(f"note: {warning}", file=sys.stderr)
    return report_exit(result.report, strict=args.strict)
