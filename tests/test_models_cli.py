"""``voxtune models`` through the real console script, in a fresh Voxtune home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxtune.engine.models.builtin import BUILTIN_MODELS

VOXTUNE = Path(sys.executable).with_name("voxtune")


@pytest.fixture
def fresh_home(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, VOXTUNE_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    env["HF_HUB_CACHE"] = str(tmp_path / "hub")
    return env


def voxtune(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VOXTUNE), "models", *args], env=env, capture_output=True, text=True, timeout=300
    )


def table(stdout: str) -> dict[str, list[str]]:
    lines = stdout.strip().splitlines()
    assert lines[0].split() == ["NAME", "FAMILY", "LANGUAGES", "SIZE", "MB", "LOCATION"]
    return {line.split()[0]: line.split() for line in lines[1:]}


def test_list_before_and_after_import(fresh_home: dict[str, str]) -> None:
    before = voxtune(fresh_home, "list")
    assert before.returncode == 0, before.stderr
    rows = table(before.stdout)
    assert rows["whisper-tiny.en"][1:5] == ["whisper", "en", "-", "embedded"]
    assert "embedded (not imported yet)" in before.stdout
    assert rows["whisper-base"][2:4] == ["99", "languages"]

    source = BUILTIN_MODELS["whisper-tiny.en"]().files
    imported = voxtune(fresh_home, "import", str(source), "--name", "tiny-copy")
    assert imported.returncode == 0, imported.stderr
    target = Path(fresh_home["VOXTUNE_HOME"]) / "models" / "tiny-copy"
    assert imported.stdout.strip() == f"imported tiny-copy (en) into {target}"
    assert (target / "model.safetensors").is_file()

    after = table(voxtune(fresh_home, "list").stdout)
    assert after["tiny-copy"] == ["tiny-copy", "whisper", "en", "79", str(target)]


def test_pull_offline_fails_in_one_line(fresh_home: dict[str, str]) -> None:
    result = voxtune(fresh_home, "pull", "openai/whisper-small")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "voxtune: error: cannot reach the Hugging Face Hub to fetch openai/whisper-small "
        "(offline?)\n"
    )


def test_import_of_a_file_fails_in_one_line(fresh_home: dict[str, str], tmp_path: Path) -> None:
    stray = tmp_path / "model.bin"
    stray.write_bytes(b"\x06\x00\x00\x00")
    result = voxtune(fresh_home, "import", str(stray))
    assert result.returncode == 1
    assert result.stderr == (
        f"voxtune: error: {stray}: not a directory (a CTranslate2 model is a folder)\n"
    )
    truncated = voxtune(fresh_home, "import", str(tmp_path))
    assert truncated.returncode == 1
    assert truncated.stderr == (
        f"voxtune: error: {tmp_path / 'model.bin'}: truncated CTranslate2 model (ends at byte 4)\n"
    )
