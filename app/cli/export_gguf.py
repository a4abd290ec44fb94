"""``voxtune export gguf MODEL --out DIR [--quant f16]``: a Qwen3-ASR model (a base or a tune)
as GGUF files llama.cpp runs: ``model.gguf`` (the text decoder) and ``mmproj.gguf`` (the audio
encoder and projector, for libmtmd), with the tokenizer and chat template in the metadata.

The export verifies itself as the ONNX one does: torch and llama.cpp re-transcribe an
evaluation manifest, and ``export-report.json`` says WER, sizes and real-time factor.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register_gguf(formats: argparse._SubParsersAction) -> None:
    gguf = formats.add_parser("gguf", help="GGUF files for llama.cpp", description=__doc__)
    gguf.add_argument("model", nargs="?", default=None, help="model name or folder")
    gguf.add_argument("--out", type=Path, required=True, help="the export folder")
    gguf.add_argument("--adapter", type=Path, default=None, help="a LoRA adapter, merged first")
    gguf.add_argument(
        "--quant",
        default="f16",
        metavar="TYPE",
        help="number format: f32, f16 (default), bf16, q8_0, q5_1, q5_0, q4_1, q4_0",
    )
    gguf.add_argument(
        "--eval", type=Path, default=None, metavar="MANIFEST", help="verification manifest"
    )
    gguf.add_argument("--no-eval", action="store_true", help="skip the verification")
    gguf.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when the export's WER is worse than the source's by more than 1 point",
    )
    gguf.set_defaults(func=run_gguf)


def run_gguf(args: argparse.Namespace) -> int:
    from voxtune.engine.export.gguf_export import GgufExportRequest, export_gguf
    from voxtune.engine.export.onnx_export import WER_TOLERANCE_POINTS
    from voxtune.engine.export.verify import DEFAULT_MANIFEST

    request = GgufExportRequest(
        model=args.model,
        out=args.out,
        adapter=args.adapter,
        quant=args.quant,
        manifest=None if args.no_eval else (args.eval or DEFAULT_MANIFEST),
    )
    result = export_gguf(request)
    print(f"exported to {args.out}")
    for name, size in result.files.items():
        if name.endswith(".gguf"):
            print(f"  {name:<14}{size / 1e6:>10.1f} MB")
    print(f"  {'all files':<14}{sum(result.files.values()) / 1e6:>10.1f} MB")
    for warning in result.warnings:
        print(f"note: {warning}", file=sys.stderr)
    report = result.report
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
        return 1 if args.strict else 0
    return 0
