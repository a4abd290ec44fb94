"""Issue 19 item 5: a local adapter loads from safetensors or not at all (no pickle, no Hub)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxtune.engine.errors import ModelError
from voxtune.engine.tune import load_with_adapter

CONFIG = {
    "peft_type": "LORA", "task_type": None, "r": 2, "lora_alpha": 4,
    "target_modules": ["q_proj"], "base_model_name_or_path": "whisper-tiny.en",
}  # fmt: skip


def adapter_without_safetensors(folder: Path, with_bin: bool) -> Path:
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps(CONFIG))
    if with_bin:  # what an attacker would leave: a pickle that runs code when loaded
        (folder / "adapter_model.bin").write_bytes(b"\x80\x04cposix\nsystem\n.")
    return folder


@pytest.mark.parametrize("with_bin", [False, True])
def test_no_safetensors_is_refused_before_anything_loads(tmp_path: Path, with_bin: bool) -> None:
    adapter = adapter_without_safetensors(tmp_path / "my-adapter", with_bin)
    with pytest.raises(ModelError) as caught:
        load_with_adapter(adapter)
    assert str(caught.value) == (
        f"{adapter}: no adapter_model.safetensors (adapters load from safetensors only)"
    )


def test_the_cli_says_one_line_and_never_reaches_for_the_hub(tmp_path: Path, english_dev) -> None:
    adapter = adapter_without_safetensors(tmp_path / "org-adapter", with_bin=True)
    manifest = tmp_path / "m.tsv"
    manifest.write_text(f"{english_dev[4].path}\t{english_dev[4].reference}\n")
    result = subprocess.run(
        [sys.executable, "-m", "voxtune.app", "eval", str(manifest), "--adapter", str(adapter)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"},
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"voxtune: error: {adapter}: no adapter_model.safetensors "
        "(adapters load from safetensors only)"
    ]


def _adapter(folder: Path, record: dict | None) -> Path:
    folder.mkdir()
    # The adapter's own config names another base: the tune's record is what counts.
    (folder / "adapter_config.json").write_text(
        json.dumps({**CONFIG, "base_model_name_or_path": "x"})
    )
    if record is not None:
        (folder / "voxtune-tune.json").write_text(json.dumps(record))
    return folder


def test_language_is_checked_against_the_adapters_base(tmp_path: Path) -> None:
    """Issue 19 item 3: with --adapter, --language was checked for its spelling only; `-l de`
    on an adapter of an English-only base was silently ignored."""
    from argparse import Namespace

    from voxtune.app.cli.inputs import model_language
    from voxtune.engine.errors import VoxtuneError

    adapter = _adapter(tmp_path / "tuned", {"base": "whisper-tiny.en"})
    args = Namespace(model=None, adapter=adapter, language="de", manifest=tmp_path / "m.tsv")
    with pytest.raises(VoxtuneError) as caught:
        model_language(args)
    assert str(caught.value).startswith(
        f"{adapter} (an adapter of whisper-tiny.en) transcribes English only, not German (de)"
    )
    assert model_language(Namespace(**{**vars(args), "language": "English"})) == "en"

    # A folder that records no base readably: only the spelling is checked here (loading it
    # says what is wrong with it), as before.
    unreadable = tmp_path / "odd"
    unreadable.mkdir()
    assert model_language(Namespace(**{**vars(args), "adapter": unreadable})) == "de"
