"""The Triton kernel tests (tests/interpreted/), run on the CPU by Triton's interpreter.

They need their own process: Triton decides between interpreter and compiled mode for its
language library when it is first imported, and this process imported it (through
transformers) long before any test could set ``TRITON_INTERPRET``. Each kernel is compared
with its torch reference there, forward and gradients; see the files for the tolerances.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_kernel_matches_its_torch_reference_under_the_interpreter() -> None:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, str(TESTS / "interpreted")],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 45, summary  # the child really ran them all
    assert "failed" not in summary and "skipped" not in summary, summary
    print(summary)
