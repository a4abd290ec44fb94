"""``voxtune transcribe``'s stderr holds Voxtune's own lines only (issue 19 item 9): no
transformers "Loading weights" progress bar, no library warnings, no leaked-semaphore notice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Switches that would hide the noise this test looks for: a user's shell has none of them.
QUIETING = ("TQDM_DISABLE", "TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS")


def test_transcribe_with_the_default_model_writes_only_its_own_lines(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in QUIETING and k != "PYTHONWARNINGS"}
    done = subprocess.run(
        [sys.executable, "-m", "voxtune.app", "transcribe", str(REPO / "assets" / "demo-en.ogg")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "voxtune: wrote demo-en.srt\n"
    assert "dinosaurs" in done.stdout and (tmp_path / "demo-en.srt").is_file()
