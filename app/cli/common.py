"""Options shared by the sub-commands that decode speech."""

from __future__ import annotations

import argparse

from voxtune.engine.types import TranscriptionOptions


def add_decoding_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", default="whisper-tiny.en", help="model name or path")
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


def decoding_options(args: argparse.Namespace) -> TranscriptionOptions:
    return TranscriptionOptions(
        language=args.language,
        task=args.task,
        beam_size=args.beam_size,
        initial_prompt=args.initial_prompt,
        vad=not args.no_vad,
    )


def load_transcriber(args: argparse.Namespace):  # type: ignore[no-untyped-def]  # -> Transcriber
    from voxtune.engine.models import load_model
    from voxtune.engine.transcribe import make_transcriber

    adapter = getattr(args, "adapter", None)
    if adapter is not None:
        from voxtune.engine.tune import load_with_adapter

        loaded = load_with_adapter(adapter, base=args.model, device=args.device)
    else:
        loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    aligner = None
    if loaded.info.family == "qwen3_asr":
        aligner = _aligner(getattr(args, "aligner", None), args.device)
    return make_transcriber(loaded, aligner)


def _aligner(name: str | None, device: str):  # type: ignore[no-untyped-def]  # -> LoadedModel
    """The aligner asked for; by default the registry's one only when already downloaded."""
    from voxtune.engine.errors import ModelError
    from voxtune.engine.models import load_model
    from voxtune.engine.models.qwen3_registry import DEFAULT_ALIGNER, resolve_qwen3

    if name == "none":
        return None
    if name is None:
        try:
            resolve_qwen3(DEFAULT_ALIGNER, download=False)
        except ModelError:
            return None
        name = DEFAULT_ALIGNER
    return load_model(name, device=device)
