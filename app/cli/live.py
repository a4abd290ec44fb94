"""``voxtune live``: transcribe the microphone (or a file played as one) as it is spoken.

Committed words never change; the partial tail may. With ``--json`` every event is one JSON
line carrying the wall-clock time it was emitted and the audio time it refers to, so latency
can be measured from outside.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from voxtune.app.cli.common import add_backend_argument
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.models.info import DEFAULT_MODEL
from voxtune.engine.models.loader import DTYPES

if TYPE_CHECKING:
    from voxtune.engine.stream import StreamingTranscriber

DIM, RESET, CLEAR_LINE = "\x1b[2m", "\x1b[0m", "\r\x1b[K"


def _speed(value: str) -> float:
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if speed < 0:
        raise argparse.ArgumentTypeError(f"speed must be 0 (as fast as possible) or more: {value}")
    return speed


def _device(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "live", help="transcribe the microphone as you speak", description=__doc__
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--device", "-d", type=_device, default=None, metavar="N|NAME",
        help="input device index or name (default: the system's default input)",
    )  # fmt: skip
    source.add_argument("--file", type=Path, help="play this file as if it were a microphone")
    source.add_argument("--list-devices", action="store_true", help="list input devices")
    parser.add_argument(
        "--speed", type=_speed, default=1.0, metavar="X",
        help="with --file: X times real time (0: as fast as possible; default 1)",
    )  # fmt: skip
    parser.add_argument("--model", "-m", default=DEFAULT_MODEL, help="model name or path")
    parser.add_argument("--language", "-l", default=None, help="language code (multilingual)")
    parser.add_argument(
        "--step", type=float, default=1.0, metavar="S", help="seconds of audio between decodes"
    )
    parser.add_argument(
        "--beam-size", type=int, default=5, choices=range(1, 6), metavar="1-5",
        help="beam search width (1: greedy, cheapest)",
    )  # fmt: skip
    parser.add_argument("--compute", default="cpu", help="torch device for the model: cpu or cuda")
    parser.add_argument(
        "--aligner", default=None, metavar="NAME|PATH",
        help="Qwen3-ASR models: Qwen3-ForcedAligner for word times (default: "
        "qwen3-forced-aligner-0.6b when downloaded; 'none' for estimated times)",
    )  # fmt: skip
    parser.add_argument(
        "--dtype", default="float32", choices=DTYPES,
        help="weights: int8 quantises linear layers (CPU, Whisper)",
    )  # fmt: skip
    add_backend_argument(parser)
    parser.add_argument("--json", action="store_true", help="one JSON line an event")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voxtune.engine.audio.sources import FileSource, MicrophoneSource, list_input_devices

    if args.list_devices:
        _print_devices(list_input_devices(), args.json)
        return 0
    if args.speed != 1.0 and args.file is None:
        raise VoxtuneError("--speed applies to --file only")
    from voxtune.app.cli.inputs import model_language

    args.language = model_language(args)  # EN, en-US, english -> en; the rest refused
    # Open the source before the model loads: a missing device fails in a moment.
    source = (
        FileSource(args.file, speed=args.speed or None)
        if args.file is not None
        else MicrophoneSource(args.device)
    )
    transcriber = _transcriber(args)
    out = _JsonOutput(sys.stdout) if args.json else _TextOutput(sys.stdout)
    with source:
        out.started(source)
        try:
            for update in transcriber.run(source):
                out.update(update)
        except KeyboardInterrupt:
            # Stopping is how a live session ends: commit what was heard, exit cleanly.
            source.stop()
            for update in transcriber.finish():
                out.update(update)
    out.stopped(transcriber)
    return 0


def _transcriber(args: argparse.Namespace) -> StreamingTranscriber:
    from dataclasses import replace

    from voxtune.engine.models import ModelRequest, build_model
    from voxtune.engine.stream import StreamingOptions

    defaults = StreamingOptions()
    options = replace(
        defaults,
        step_seconds=args.step,
        transcription=replace(
            defaults.transcription, language=args.language, beam_size=args.beam_size
        ),
    )
    request = ModelRequest(
        name=args.model,
        backend=args.backend,
        dtype=args.dtype,
        device=args.compute,
        aligner=args.aligner,
    )
    # The request is checked against the family before the weights load.
    return build_model(request, options.transcription).streaming_transcriber(options)


def _print_devices(devices: list, as_json: bool) -> None:  # list[InputDevice]
    for d in devices:
        if as_json:
            print(json.dumps({"event": "device", **_fields(d)}))
        else:
            mark = "*" if d.is_default else " "
            print(f"{mark} {d.index:3d}  {d.name}  ({d.host_api}, {d.channels} ch, "
                  f"{d.default_samplerate:g} Hz)")  # fmt: skip
    if not devices and not as_json:
        print("no input devices", file=sys.stderr)


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _is_file(source: Any) -> bool:
    from voxtune.engine.audio.sources import FileSource

    return isinstance(source, FileSource)


def _source_name(source: Any) -> str:
    return str(source.path) if _is_file(source) else source.device.name


def _words(words: tuple) -> list[dict[str, Any]]:
    return [_fields(w) for w in words]


class _JsonOutput:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _emit(self, event: dict[str, Any]) -> None:
        self.stream.write(json.dumps(event, ensure_ascii=False) + "\n")
        self.stream.flush()

    def started(self, source: Any) -> None:
        kind = "file" if _is_file(source) else "microphone"
        name = _source_name(source)
        self._emit({"event": "started", "time": time.time(), "source": kind, "name": name,
                    "sample_rate": source.sampling_rate})  # fmt: skip

    def update(self, update: Any) -> None:
        self._emit({
            "event": "update", "time": update.emitted_at, "audio_time": update.audio_time,
            "committed": _words(update.committed), "partial": _words(update.partial),
            "final": update.final,
        })  # fmt: skip

    def stopped(self, transcriber: Any) -> None:
        self._emit({
            "event": "stopped", "time": time.time(), "audio_time": transcriber.audio_time,
            "text": "".join(w.text for w in transcriber.committed).strip(),
            "decodes": transcriber.decodes,
            "decode_seconds": round(transcriber.decode_seconds, 3),
        })  # fmt: skip


class _TextOutput:
    """Committed text as it comes; on a terminal, the partial tail dimmed after it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.line = ""  # committed text on the current terminal line

    def started(self, source: Any) -> None:
        name = _source_name(source)
        print(f"voxtune: listening to {name} (Ctrl-C stops)", file=sys.stderr)

    def update(self, update: Any) -> None:
        committed = "".join(w.text for w in update.committed)
        if not self.tty:
            if committed:
                self.stream.write(committed)
                self.stream.flush()
            return
        self.line += committed
        partial = "".join(w.text for w in update.partial)
        self.stream.write(f"{CLEAR_LINE}{self.line}{DIM}{partial}{RESET}")
        if self.line.rstrip().endswith((".", "?", "!")) and not partial:
            self.stream.write("\n")
            self.line = ""
        self.stream.flush()

    def stopped(self, transcriber: Any) -> None:
        self.stream.write("\n")
        self.stream.flush()
