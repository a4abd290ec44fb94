"""``voxtune models import | list`` and unknown names, for Qwen3-ASR, through the real command.

Each test runs the CLI in a process of its own with a fresh Voxtune home and an empty,
offline Hugging Face cache, so nothing depends on what this machine downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_qwen3_models import tensors

from voxtune.engine.families.qwen3_asr.layout import native_to_original


@pytest.fixture(scope="module")
def original_layout(tiny_asr: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("qwen3") / "Qwen3-ASR-tiny"
    native_to_original(tiny_asr, target)
    return target


@pytest.fixture
def voxtune(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``voxtune ARGS`` in its own home, offline: (exit code, stdout, stderr)."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "VOXTUNE_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(tmp_path / "hub"),
    }

    def run(*args: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "voxtune.app", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        return done.returncode, done.stdout, done.stderr

    run.home = home  # type: ignore[attr-defined]
    return run


def test_import_of_an_original_layout_folder_makes_a_named_model(
    voxtune, original_layout: Path, ivr_set: list, tmp_path: Path
) -> None:
    code, out, err = voxtune("models", "import", str(original_layout), "--name", "my-qwen")
    stored = voxtune.home / "models" / "my-qwen"
    assert (code, err) == (0, "")
    assert out == f"imported my-qwen (30 languages) into {stored}\n"
    config = json.loads((stored / "config.json").read_text())
    assert "thinker_config" not in config and config["architectures"] == [
        "Qwen3ASRForConditionalGeneration"
    ]
    manifest = json.loads((stored / "voxtune-model.json").read_text())
    assert (manifest["family"], manifest["source"]) == ("qwen3_asr", "imported")
    assert manifest["imported_from"] == str(original_layout.resolve())

    audio = ivr_set[0].path
    args = ("transcribe", str(audio), "--model", "my-qwen", "-l", "en", "--beam-size", "1")
    code, _, err = voxtune(*args, "--aligner", "none", "-f", "json", "-o", str(tmp_path), "-q")
    assert code == 0, err
    document = json.loads((tmp_path / f"{audio.stem}.json").read_text())
    assert document["model"] == "my-qwen" and document["segments"]

    code, out, _ = voxtune("models", "list")
    row = next(line for line in out.splitlines() if line.startswith("my-qwen "))
    assert row.split()[1:3] == ["qwen3_asr", "30"] and str(stored) in row


def test_import_again_redoes_it_and_a_taken_name_is_refused(
    voxtune, original_layout: Path, tiny_asr: Path
) -> None:
    assert voxtune("models", "import", str(original_layout), "--name", "q")[0] == 0
    assert voxtune("models", "import", str(original_layout), "--name", "q")[0] == 0
    code, out, err = voxtune("models", "import", str(tiny_asr), "--name", "q")
    assert (code, out) == (1, "")
    assert err == (
        f"voxtune: error: {voxtune.home / 'models' / 'q'}: the name 'q' is taken by a model "
        f"imported from {original_layout.resolve()} (choose another --name)\n"
    )
    code, _, err = voxtune("models", "import", str(tiny_asr), "--name", "qwen3-asr-1.7b")
    assert code == 1
    assert err == (
        "voxtune: error: 'qwen3-asr-1.7b': a built-in or registry name (choose another --name)\n"
    )


def test_a_native_folder_imports_too_and_broken_weights_are_one_line(
    voxtune, tiny_asr: Path, tmp_path: Path
) -> None:
    code, out, err = voxtune("models", "import", str(tiny_asr))
    assert code == 0, err
    assert out.startswith("imported tiny-qwen3-asr (30 languages) into ")
    stored = voxtune.home / "models" / "tiny-qwen3-asr"
    assert tensors(stored) == tensors(tiny_asr)  # the same tensors, bit for bit
    assert (stored / "processor_config.json").is_file()
    assert (stored / "chat_template.jinja").is_file()

    broken = tmp_path / "broken"
    native_to_original(tiny_asr, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    code, out, err = voxtune("models", "import", str(broken))
    assert (code, out) == (1, "")
    assert err.startswith(f"voxtune: error: {broken / 'model.safetensors'}: unreadable weights")
    assert len(err.splitlines()) == 1


def test_list_shows_the_registry_entries_and_what_they_would_download(voxtune) -> None:
    code, out, err = voxtune("models", "list")
    assert (code, err) == (0, "")
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    for name, family, size, repo in (
        ("qwen3-asr-0.6b", "qwen3_asr", "1.9", "Qwen/Qwen3-ASR-0.6B"),
        ("qwen3-asr-1.7b", "qwen3_asr", "4.7", "Qwen/Qwen3-ASR-1.7B"),
        (
            "qwen3-forced-aligner-0.6b",
            "qwen3_forced_aligner",
            "1.8",
            "Qwen/Qwen3-ForcedAligner-0.6B",
        ),
    ):
        assert rows[name].split()[1] == family
        assert rows[name].endswith(f"not downloaded ({size} GB from {repo})"), rows[name]


def test_a_registry_entry_in_the_hub_cache_is_listed_as_present(
    voxtune, tiny_asr: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "hub" / "models--Qwen--Qwen3-ASR-0.6B"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40)
    native_to_original(tiny_asr, snapshot)
    code, out, _ = voxtune("models", "list")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("qwen3-asr-0.6b "))
    assert row.split()[3] != "-" and row.endswith(str(snapshot))


def test_an_unknown_model_names_the_qwen3_entries(voxtune, ivr_set: list) -> None:
    code, _, err = voxtune("transcribe", str(ivr_set[0].path), "--model", "qwen3-asr-9b")
    assert code == 1
    assert err.startswith("voxtune: error: unknown model 'qwen3-asr-9b' (available: ")
    assert len(err.splitlines()) == 1
    for name in ("qwen3-asr-0.6b", "qwen3-asr-1.7b", "qwen3-forced-aligner-0.6b"):
        assert name in err
