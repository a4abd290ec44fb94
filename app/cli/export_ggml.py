"""``voxtune export ggml MODEL --out FILE``: a Whisper (a base or a tune) as whisper.cpp's
model file, at f16 or quantised (q8_0, q5_0; f32 for reference).

The export verifies itself as the ONNX export does: torch and whisper.cpp re-transcribe an
evaluation manifest (``--eval``; by default a few FLEURS clips shipped with Voxtune), and
``FILE.export-report.json`` says WER, sizes and real-time factor. Run the file with
``voxtune transcribe --model FILE`` (the whispercpp backend is chosen by itself).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register_ggml(formats: argparse._SubParsersAction) -> None:
    from voxtune.engine.export.ggml_files import QUANTISATIONS

    ggml = formats.add_parser("ggml", help="whisper.cpp's model file", description=__doc__)
    ggml.add_argument("model", nargs="?", default=None, help="model name or folder")
    ggml.add_argument("--out", type=Path, required=True, help="the model file to write")
    ggml.add_argument("--adapter", type=Path, default=None, help="a LoRA adapter, merged first")
    ggml.add_argument("--quant", choices=tuple(QUANTISATIONS), default="f16",
                      help="number format of the large matrices (default: f16)")  # fmt: skip
    ggml.add_argument(
        "--eval", type=Path, default=None, metavar="MANIFEST", help="verification manifest"
    )
    ggml.add_argument("--no-eval", action="store_true", help="skip the verification")
    ggml.add_argument("--beam-size", type=int, default=5)
    ggml.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when the export's WER is worse than the source's by more than 1 point",
    )
    ggml.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voxtune.engine.export.ggml_export import GgmlExportRequest, export_ggml
    from voxtune.engine.export.onnx_export import WER_TOLERANCE_POINTS
    from voxtune.engine.export.verify import DEFAULT_MANIFEST

    request = GgmlExportRequest(
        model=args.model,
        out=args.out,
        adapter=args.adapter,
        quantisation=args.quant,
        manifest=None if args.no_eval else (args.eval or DEFAULT_MANIFEST),
        beam_size=args.beam_size,
    )
    result = export_ggml(request)
    file = result.file
    print(
        f"exported to {args.out} ({file.size / 1e6:.1f} MB, {file.hparams.quantisation}, "
        f"{len(file.tensors)} tensors)"
    )
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
