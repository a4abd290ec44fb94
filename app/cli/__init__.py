"""The ``voxtune`` command line.

Each sub-command lives in its own module with ``register(subparsers)``, which adds its
parser and sets ``func(args) -> int`` (the exit code). Modules import heavy libraries inside
``func`` only, so ``voxtune --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from voxtune.engine.errors import VoxtuneError

# One line a sub-command module, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "transcribe",
    "live",
    "models",
    "eval",
    "batch",
    "jobs",
    "gui",
    "finetune",
    "export",
    "push",
)
# Commands that run models in this process: they set torch's thread count once, at start,
# before any model loads (``batch`` runs its models in an engine process, which does the same).
MODEL_COMMANDS = frozenset({"transcribe", "live", "eval", "finetune", "export"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxtune", description="Local speech transcription and ASR model tuning."
    )
    parser.add_argument("--version", action="version", version="voxtune 0.1.0")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def _has_display() -> bool:
    import os

    return bool(
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
        or sys.platform in ("darwin", "win32")
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # to run again (finetune --devices)
    if not getattr(args, "func", None):
        # Bare ``voxtune`` is the desktop application where there is a screen to show it on.
        if _has_display():
            args = parser.parse_args(["gui"])
        else:
            parser.print_help()
            return 0
    if args.command in MODEL_COMMANDS:
        from voxtune.engine.torch_threads import set_torch_threads

        set_torch_threads(getattr(args, "threads", None))
    try:
        return int(args.func(args) or 0)
    except VoxtuneError as exc:
        print(f"voxtune: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("voxtune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
