"""Time from process start to the main window being shown (and painted), cold each run.

Each run is a fresh interpreter: the parent notes the time, starts the child, and the child
reports the wall clock once the window has been shown and the event loop has painted it. The
engine process starts in the background and is not waited for (the window must not need it).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
imports_began = time.time()
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from voxtune.ui.app import build_window


def main() -> None:
    app = QApplication(sys.argv[:1])
    window = build_window(app)
    window.show()

    def shown() -> None:
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
        report = {"shown": time.time(), "imports_began": imports_began, "heavy": heavy}
        print(json.dumps(report), flush=True)
        window.close()
        app.quit()

    QTimer.singleShot(0, shown)  # runs once the event loop has shown and painted the window
    app.exec()


if __name__ == "__main__":
    main()
"""


def one_run(script: Path, home: Path) -> dict[str, float]:
    env = {**os.environ, "VOXTUNE_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    started = time.time()
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report["heavy"]:
        raise SystemExit(f"the UI process imported {report['heavy']}")
    return {
        "to_shown_ms": (report["shown"] - started) * 1000,
        "interpreter_ms": (report["imports_began"] - started) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="voxtune-startup-") as scratch:
        script = Path(scratch) / "startup_child.py"
        script.write_text(CHILD)
        runs = [one_run(script, Path(scratch) / "home") for _ in range(args.runs)]
    shown = [r["to_shown_ms"] for r in runs]
    interpreter = [r["interpreter_ms"] for r in runs]
    print(
        f"process start -> main window shown: median {statistics.median(shown):.0f} ms, "
        f"min {min(shown):.0f} ms, max {max(shown):.0f} ms over {len(runs)} runs"
    )
    print(
        f"  of which interpreter start (before our first import): "
        f"median {statistics.median(interpreter):.0f} ms"
    )


if __name__ == "__main__":
    main()
