"""``voxtune gui [FILE...]``: the desktop application; files given are queued at once."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gui", help="open the desktop application", description=__doc__)
    parser.add_argument("files", nargs="*", type=Path, metavar="FILE", help="files to transcribe")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from PySide6.QtWidgets import QApplication

    from voxtune.ui.app import build_window

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = build_window(app)  # type: ignore[arg-type]
    window.show()
    if args.files:
        window.files_tab.add_paths(args.files)
    return app.exec()
