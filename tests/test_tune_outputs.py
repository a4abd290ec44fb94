"""A tune registered as an adapter, and ``--resume`` refusing a run with other options.

Tiny random Whisper, espeak-ng sentences; each ``voxtune`` call is a real subprocess.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from tune_factory import jargon_sentences, speak, voxtune, write_folder_dataset

from voxtune.engine.home import models_dir
from voxtune.engine.models.manifest import ADAPTER_SOURCE, read_manifest


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tune-data")
    spoken = speak(jargon_sentences(8, seed=4), root / "wav", seed=4)
    return write_folder_dataset(spoken, root / "set")


def tune_args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "finetune", "--base", str(model), "--data", str(data), "--out", str(out),
        "--batch-size", "4", "--rank", "4", "--alpha", "8", "--seed", "1",
        "--validation-fraction", "0", *extra,
    ]  # fmt: skip


def test_register_without_merge_registers_the_adapter_and_transcribe_loads_both(
    tiny_whisper: Path, data: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import WhisperForConditionalGeneration

    from voxtune.engine.models import clear_model_cache, load_model

    out = tmp_path / "run"
    done = voxtune(
        *tune_args(tiny_whisper, data, out, "--max-steps", "3", "--lr", "1e-2"),
        "--register", "tiny-adapter",
    )  # fmt: skip
    assert "registered: voxtune transcribe --model tiny-adapter" in done.stdout
    registered = models_dir() / "tiny-adapter"
    assert (registered / "adapter_model.safetensors").is_file()
    assert not (registered / "model.safetensors").exists(), "the base is not copied"
    manifest = read_manifest(registered)
    assert manifest is not None and manifest.source == ADAPTER_SOURCE
    assert manifest.base == str(tiny_whisper.resolve()) and manifest.family == "whisper"

    audio = sorted(data.glob("*.wav"))[0]
    voxtune(
        "transcribe", str(audio), "--model", "tiny-adapter", "-f", "json", "-o", str(tmp_path),
        "-q", "--beam-size", "1",
    )  # fmt: skip
    payload = json.loads((tmp_path / audio.with_suffix(".json").name).read_text())
    assert payload["model"] == "tiny-adapter"

    # By name, the loader gives the base with the adapter applied: what peft computes.
    clear_model_cache()
    loaded = load_model("tiny-adapter")
    features = torch.randn(1, 80, 3000, generator=torch.Generator().manual_seed(0))
    prompt = torch.tensor([loaded.model.generation_config.decoder_start_token_id] * 3)[None]
    tuned = PeftModel.from_pretrained(
        WhisperForConditionalGeneration.from_pretrained(tiny_whisper), out / "adapter"
    ).eval()
    base = WhisperForConditionalGeneration.from_pretrained(tiny_whisper).eval()
    with torch.no_grad():
        actual = loaded.model(input_features=features, decoder_input_ids=prompt).logits
        expected = tuned(input_features=features, decoder_input_ids=prompt).logits
        untuned = base(input_features=features, decoder_input_ids=prompt).logits
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(actual, untuned, atol=1e-4)

    # Damaged adapter weights: one line naming the file.
    weights = registered / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    failed = voxtune("transcribe", str(audio), "--model", "tiny-adapter", check=False)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1] == (
        f"voxtune: error: {weights}: corrupt (checksum differs from the registration)"
    )


def test_resume_refuses_changed_options_and_allows_the_rest(
    tiny_whisper: Path, data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    steps = ("--max-steps", "3", "--checkpoint-every", "1")
    voxtune(*tune_args(tiny_whisper, data, out, *steps))
    checkpoint = out / "checkpoints" / "step-0000002"  # the last before the final step
    assert checkpoint.is_dir()
    moved = shutil.copytree(data, tmp_path / "other-data")

    failed = voxtune(
        *tune_args(tiny_whisper, moved, out, *steps, "--rank", "8", "--lr", "1e-2"), "--resume",
        check=False,
    )  # fmt: skip

    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        f"voxtune: error: {checkpoint}: cannot resume with different options: "
        f"--data (checkpoint '{data}', now '{moved}'); --rank (checkpoint 4, now 8); "
        "--lr (checkpoint 0.001, now 0.01) (use the checkpoint's values, or a new --out)"
    )
    # How often to evaluate or save, and early stopping, may change on resume.
    resumed = voxtune(
        *tune_args(tiny_whisper, data, out, "--max-steps", "3", "--checkpoint-every", "2"),
        "--eval-every", "5", "--patience", "2", "--resume",
    )  # fmt: skip
    assert "resumed from step 2" in resumed.stdout
    summary = json.loads((out / "tune-summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] == 3
