"""Import contracts, checked in fresh processes: the engine never imports Qt, and the
modules the UI process uses (protocol, client, core types, job store) never import torch."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import voxtune.engine

REPO = Path(__file__).resolve().parents[1]


def modules_loaded_by(imports: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {imports!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(done.stdout)


def test_the_engine_never_imports_qt() -> None:
    engine_modules = [
        m.name
        for m in pkgutil.walk_packages(voxtune.engine.__path__, "voxtune.engine.")
        if not m.name.endswith("__main__")
    ]
    assert len(engine_modules) > 40  # the walk found the engine, not an empty folder
    loaded = modules_loaded_by(engine_modules)
    assert "torch" in loaded  # the heavy modules really were imported
    assert not [m for m in loaded if m.split(".")[0] in ("PySide6", "shiboken6")]


def test_what_the_ui_imports_from_the_engine_is_torch_free() -> None:
    loaded = modules_loaded_by(
        [
            "voxtune.engine.protocol",
            "voxtune.engine.client",
            "voxtune.engine.types",
            "voxtune.engine.jobs",
            "voxtune.engine.subtitles",
            "voxtune.engine.models.registry",
            "voxtune.engine.tune.events",
            "voxtune.engine.home",
        ]
    )
    assert not [m for m in loaded if m.split(".")[0] in ("torch", "transformers", "peft")]
