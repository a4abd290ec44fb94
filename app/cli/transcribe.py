"""``voxtune transcribe FILE...``: files to subtitles and transcripts, offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voxtune.app.cli.common import (
    add_decoding_arguments,
    add_subtitle_arguments,
    decoding_options,
    load_transcriber,
    subtitle_rules,
)
from voxtune.app.cli.inputs import (
    distinct_output_names,
    existing_files,
    model_language,
    naming,
    output_formats,
    writable_folder,
)
from voxtune.engine.errors import VoxtuneError


def _formats(value: str) -> list[str]:
    return [f.strip().lower() for f in value.split(",") if f.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "transcribe", help="transcribe audio or video files", description=__doc__
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add_decoding_arguments(parser)
    parser.add_argument(
        "--format", "-f", type=_formats, default=["srt"], help="comma list of srt,vtt,txt,json"
    )
    parser.add_argument("--output-dir", "-o", type=Path, default=Path("."))
    parser.add_argument("--quiet", "-q", action="store_true", help="no segments on stdout")
    add_subtitle_arguments(parser)
    parser.add_argument(
        "--kernels",
        choices=("auto", "off"),
        default="auto",
        help="Triton kernels for word alignment (DTW, median filter): auto on a GPU; off: torch",
    )
    parser.set_defaults(func=run)


def _stamp(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:06.3f}"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from voxtune.engine.audio import AudioFile
    from voxtune.engine.subtitles import checked_formats, write_outputs
    from voxtune.engine.transcribe import transcribe_file
    from voxtune.kernels.runtime import alignment_kernels_line, set_kernels_mode

    # Everything a user can get wrong is checked before the model loads (seconds) and before
    # any file is decoded, so a typo costs nothing and no run is half done.
    args.format = output_formats(checked_formats(args.format))
    files, missing = existing_files(args.files)
    distinct_output_names(files)
    writable_folder(args.output_dir)
    args.language = model_language(args)
    options = decoding_options(args)
    rules = subtitle_rules(args)
    for problem in missing:
        print(f"voxtune: error: {problem}", file=sys.stderr)
    failed = len(missing)
    set_kernels_mode(args.kernels)
    transcriber = load_transcriber(args) if files else None
    if files and (line := alignment_kernels_line(args.kernels, args.device)):
        print(f"voxtune: {line}", file=sys.stderr)
    for path in files:
        try:
            with AudioFile(path) as media:  # opened once: its length, then its audio
                duration = media.duration
                with tqdm(
                    total=round(duration, 1), unit="s", desc=path.name, file=sys.stderr,
                    disable=None, leave=False, bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s",
                ) as bar:  # fmt: skip

                    def on_segment(segment, total, bar=bar):  # type: ignore[no-untyped-def]
                        bar.update(round(min(segment.end, total) - bar.n, 1))
                        if not args.quiet:
                            bar.write(f"[{_stamp(segment.start)} --> {_stamp(segment.end)}] "
                                      f"{segment.text.strip()}", file=sys.stdout)  # fmt: skip

                    transcript = transcribe_file(media, transcriber, options, on_segment)
            if not any(segment.text.strip() for segment in transcript.segments):
                # Silence or noise: the outputs are empty on purpose, which should not look
                # like a bug.
                print(f"voxtune: {path}: no speech heard; the outputs are empty", file=sys.stderr)
            written = write_outputs(transcript, args.output_dir, path.stem, args.format, rules)
            for output in written:
                print(f"voxtune: wrote {output}", file=sys.stderr)
        except VoxtuneError as exc:
            failed += 1
            print(f"voxtune: error: {naming(path, exc)}", file=sys.stderr)
    if failed:
        print(f"voxtune: {failed} of {len(files) + len(missing)} files failed", file=sys.stderr)
        return 1
    return 0
