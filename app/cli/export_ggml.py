"""``voxtune export ggml MODEL --out FILE``: a Whisper (a base or a tune) as whisper.cpp's
model file, at f16 or quantised (q8_0, q5_0; f32 for reference).

The export verifies itself as the ONNX export does: torch and whisper.cpp re-transcribe an
evaluation manifest (``--eval``; by default a few FLEURS clips shipped with Voxtune), and
``FILE.export-report.json`` says WER, sizes and real-time factor. Run the file with
``voxtune transcribe --model FILE`` (the whispercpp backend is chosen by itself).
"""

from __future__ import annotations

import argparse

from voxtune.app.cli.export import (
    add_source_arguments,
    add_verification_arguments,
    report_exit,
    verification_manifest,
)


def register_ggml(formats: argparse._SubParsersAction) -> None:
    ggml = formats.add_parser("ggml", help="whisper.cpp's model file", description=__doc__)
    add_source_arguments(ggml, out_help="the model file to write")
    # No argparse choices: they would import the ggml writer (and numpy) into every command's
    # start-up; the export refuses an unknown format in one line naming the valid ones.
    ggml.add_argument(
        "--quant",
        default="f16",
        metavar="TYPE",
        help="number format of the large matrices: f32, f16 (default), q8_0, q5_0",
    )
    add_verification_arguments(ggml)
    ggml.add_argument("--beam-size", type=int, default=5)
    ggml.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voxtune.engine.export.ggml_export import GgmlExportRequest, export_ggml

    request = GgmlExportRequest(
        model=args.model,
        out=args.out,
        adapter=args.adapter,
        quantisation=args.quant,
        manifest=verification_manifest(args),
        beam_size=args.beam_size,
    )
    result = export_ggml(request)
    file = result.file
    print(
        f"exported to {args.out} ({file.size / 1e6:.1f} MB, {file.hparams.quantisation}, "
        f"{len(file.tensors)} tensors)"
    )
    return report_exit(result.report, strict=args.strict)
