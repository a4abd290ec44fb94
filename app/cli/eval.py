"""``voxtune eval MANIFEST.tsv``: word error rate and real-time factor of a model.

WER is computed by jiwer after the normalisation in ``voxtune.engine.evaluation.wer``
(lower case, punctuation removed, whitespace collapsed), per language and overall.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

from voxtune.app.cli.common import add_decoding_arguments, decoding_options, load_transcriber


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="WER and speed on a manifest", description=__doc__)
    parser.add_argument("manifest", type=Path, metavar="MANIFEST.tsv")
    add_decoding_arguments(parser)
    parser.add_argument(
        "--adapter",
        type=Path,
        default=None,
        help="a LoRA adapter directory (voxtune finetune's OUT/adapter) applied to --model",
    )
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N rows only")
    parser.add_argument("--show", type=int, default=5, help="print the N worst utterances")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tqdm import tqdm

    from voxtune.app.cli.inputs import manifest_languages, model_language
    from voxtune.engine.evaluation import normalize_text, read_manifest, word_error_rate
    from voxtune.engine.transcribe import transcribe_file

    rows = read_manifest(args.manifest)[: args.limit]
    args.language = model_language(args)
    rows = manifest_languages(rows, args)  # each row's language as the model names it
    options = decoding_options(args)
    transcriber = load_transcriber(args)
    by_language: dict[str, list[tuple[str, str]]] = defaultdict(list)
    audio_seconds = wall = 0.0
    scored = []
    for row in tqdm(rows, desc="eval", file=sys.stderr, disable=None):
        row_options = options
        # Multilingual models are told each row's language (Whisper and Qwen3-ASR alike).
        if row.language and transcriber.loaded.info.multilingual and not args.language:
            row_options = replace(options, language=row.language)
        started = time.perf_counter()
        transcript = transcribe_file(row.audio, transcriber, row_options)
        wall += time.perf_counter() - started
        audio_seconds += transcript.duration
        language = row.language or transcript.language or "?"
        by_language[language].append((row.reference, transcript.text))
        scored.append((word_error_rate([row.reference], [transcript.text]), row, transcript.text))
    print(f"model {transcriber.model_name}  beam {options.beam_size}")
    print(f"{'language':<10}{'files':>6}{'WER %':>9}")
    pairs_all = []
    for language, pairs in sorted(by_language.items()):
        pairs_all.extend(pairs)
        wer = word_error_rate([r for r, _ in pairs], [h for _, h in pairs])
        print(f"{language:<10}{len(pairs):>6}{100 * wer:>9.2f}")
    overall = word_error_rate([r for r, _ in pairs_all], [h for _, h in pairs_all])
    print(f"{'all':<10}{len(pairs_all):>6}{100 * overall:>9.2f}")
    rtf = wall / audio_seconds if audio_seconds else 0.0
    print(f"audio {audio_seconds:.1f} s  wall {wall:.1f} s  RTF {rtf:.3f}")
    for wer, row, hypothesis in sorted(scored, key=lambda s: -s[0])[: args.show]:
        if wer == 0:
            break
        print(f"\n{100 * wer:.0f}%  {row.audio.name}\n  ref: {normalize_text(row.reference)}")
        print(f"  hyp: {normalize_text(hypothesis)}")
    return 0
