"""Options shared by the sub-commands that decode speech and write subtitles."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.models.info import DEFAULT_MODEL
from voxtune.engine.models.ready import ModelRequest
from voxtune.engine.subtitles.rules import DEFAULT_RULES, SubtitleRules
from voxtune.engine.types import TranscriptionOptions

if TYPE_CHECKING:
    from voxtune.engine.families.family import OfflineTranscriber


def add_decoding_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", "-m", default=None,
        help=f"model name or path (default: {DEFAULT_MODEL}; with --adapter, the adapter's base)",
    )  # fmt: skip
    parser.add_argument(
        "--language",
        "-l",
        default=None,
        help="language code (default: detect; multilingual models)",
    )
    parser.add_argument("--beam-size", type=int, default=5, choices=range(1, 6), metavar="1-5")
    parser.add_argument("--task", choices=("transcribe", "translate"), default="transcribe")
    parser.add_argument("--initial-prompt", default=None, help="text that primes vocabulary")
    parser.add_argument("--no-vad", action="store_true", help="decode silence too")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "float16", "bfloat16", "int8"),
        help="weights: int8 quantises linear layers (CPU, Whisper), halves the time",
    )
    parser.add_argument(
        "--aligner",
        default=None,
        help="Qwen3-ForcedAligner name or path for word times (default: "
        "qwen3-forced-aligner-0.6b when downloaded; 'none' for segment times only)",
    )
    add_backend_argument(parser)


def decoding_options(args: argparse.Namespace) -> TranscriptionOptions:
    return TranscriptionOptions(
        language=args.language,
        task=args.task,
        beam_size=args.beam_size,
        initial_prompt=args.initial_prompt,
        vad=not args.no_vad,
    )


def add_subtitle_arguments(parser: argparse.ArgumentParser) -> None:
    """The SubtitleRules a user may change; defaults shown are the rules' own."""
    group = parser.add_argument_group("subtitle cues (SRT, VTT)")
    d = DEFAULT_RULES
    group.add_argument(
        "--max-line-chars",
        type=int,
        default=d.max_line_chars,
        metavar="N",
        help=f"characters per line (default: {d.max_line_chars})",
    )
    group.add_argument(
        "--max-lines",
        type=int,
        default=d.max_lines,
        metavar="N",
        help=f"lines per cue (default: {d.max_lines})",
    )
    group.add_argument(
        "--min-duration",
        type=float,
        default=d.min_duration,
        metavar="S",
        help=f"shortest cue, in seconds (default: {d.min_duration})",
    )
    group.add_argument(
        "--max-duration",
        type=float,
        default=d.max_duration,
        metavar="S",
        help=f"longest cue, in seconds (default: {d.max_duration})",
    )


def subtitle_rules(args: argparse.Namespace) -> SubtitleRules:
    """VoxtuneError (one line, naming the rule) for values the rules refuse."""
    return SubtitleRules(
        max_line_chars=args.max_line_chars,
        max_lines=args.max_lines,
        min_duration=args.min_duration,
        max_duration=args.max_duration,
    )


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    from voxtune.engine.backends import BACKENDS

    parser.add_argument(
        "--backend",
        default="torch",
        choices=tuple(BACKENDS),
        help="what runs the model: torch, onnx (an export folder; another model is exported "
        "once into the model store), llamacpp (a GGUF export) or whispercpp (a ggml file); an "
        "export is run by its own engine without asking",
    )


def model_request(args: argparse.Namespace) -> ModelRequest:
    """The model the decoding options name, as ``build_model`` takes it."""
    adapter = getattr(args, "adapter", None)
    return ModelRequest(
        name=args.model,
        backend=getattr(args, "backend", "torch"),
        dtype=args.dtype,
        device=args.device,
        aligner=getattr(args, "aligner", None),
        adapter=Path(adapter) if adapter is not None else None,
    )


def load_transcriber(args: argparse.Namespace) -> OfflineTranscriber:
    from voxtune.engine.models import build_model

    return build_model(model_request(args), decoding_options(args)).offline_transcriber()
