"""The layer contracts (pyproject ``[tool.importlinter]``) hold, and they can fail.

ui -> protocol <- engine, app wires them: the engine never imports Qt, the UI or the app; the
UI and the protocol never import torch; jobs and the engine process form no cycle. The runtime
check that a real window leaves torch unimported is ``test_ui_torch_free.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_every_layer_contract_is_kept() -> None:
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "6 kept, 0 broken" in done.stdout


def test_a_ui_module_that_opens_the_job_store_breaks_a_contract() -> None:
    probe = REPO / "ui" / "_layer_probe.py"
    probe.write_text("from voxtune.engine.jobs.store import JobStore  # noqa: F401\n")
    try:
        done = lint_imports(REPO)
    finally:
        probe.unlink()
        shutil.rmtree(REPO / ".import_linter_cache", ignore_errors=True)
    assert done.returncode != 0
    assert "voxtune.ui._layer_probe -> voxtune.engine.jobs.store" in done.stdout
