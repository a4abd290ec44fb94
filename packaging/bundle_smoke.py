"""Run by the bundle's own Python (``check_linux_bundle.sh``): open the app offscreen,
transcribe a file through the Files tab, and check that nothing was loaded from outside the
bundle — neither in the app nor in its engine process.

    bundle/python/bin/python3 -I bundle_smoke.py BUNDLE AUDIO OUT_DIR
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

# The system's own libraries and caches (libc, libGL, fonts) are meant to come from outside.
SYSTEM = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/share/", "/var/cache/")
TIMEOUT_MS = 300_000


def outside(bundle: Path, pid: int | str) -> list[str]:
    """Files mapped into process ``pid`` that are neither the bundle's nor the system's."""
    found = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        path = parts[5] if len(parts) == 6 else ""
        home = str(Path.home()) + "/"  # the user's data: the job store, the imported model
        ours = path.startswith((str(bundle) + "/", *SYSTEM, home, "/dev/", "/memfd:", "/run/"))
        if path.startswith("/") and not ours:
            found.add(path)
    return sorted(found)


def main() -> int:
    bundle, audio, out = (Path(a).resolve() for a in sys.argv[1:4])
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from voxtune.ui.app import build_window

    app = QApplication([])
    window = build_window(app)
    window.change_settings(replace(window.settings, output_dir=str(out), formats=("txt",)))
    result: dict[str, object] = {}

    def done(job_id: int, outputs: tuple[str, ...]) -> None:
        result["outputs"] = outputs
        result["engine"] = outside(bundle, window.bridge.pid or 0)
        app.quit()

    def failed(job_id: int, message: str, _retryable: bool) -> None:
        result["failed"] = message
        app.quit()

    window.bridge.job_done.connect(done)
    window.bridge.job_failed.connect(failed)
    window.show()
    window.files_tab.add_paths([audio])
    QTimer.singleShot(TIMEOUT_MS, app.quit)
    app.exec()
    window.close()

    modules = sorted(
        name for name, module in list(sys.modules.items())
        # Only real files (PySide6's support modules are embedded: their __file__ is no path),
        # and not this script, which runs from the checkout (in the engine, as __mp_main__).
        if (file := getattr(module, "__file__", None)) and Path(file).is_file()
        and not file.startswith(str(bundle)) and name not in ("__main__", "__mp_main__")
    )  # fmt: skip
    problems = []
    if "failed" in result:
        problems.append(f"the job failed: {result['failed']}")
    elif "outputs" not in result:
        problems.append(f"no job finished in {TIMEOUT_MS // 1000} s")
    else:
        text = Path(str(result["outputs"][0])).read_text()  # type: ignore[index]
        print(f"bundle_smoke: transcript: {text.strip()}")
        if "dinosaurs" not in text:
            problems.append("the transcript does not say 'dinosaurs'")
        if result["engine"]:
            problems.append(f"the engine loaded files from outside: {result['engine'][:5]}")
    if modules:
        problems.append(f"modules imported from outside the bundle: {modules[:5]}")
    if found := outside(bundle, "self"):
        problems.append(f"the app loaded files from outside: {found[:5]}")
    for problem in problems:
        print(f"bundle_smoke: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
