"""``voxtune finetune`` end to end on a tiny random Whisper: kill and resume, outputs, errors.

The model is tiny so these run in seconds; the real-speech training test is test_tune_training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tune_factory import (
    jargon_sentences,
    kill_after_checkpoint,
    speak,
    voxtune,
    write_folder_dataset,
)

ADAPTER_WEIGHTS = "adapter/adapter_model.safetensors"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tune-data")
    spoken = speak(jargon_sentences(12, seed=3), root / "wav", seed=3)
    return write_folder_dataset(spoken, root / "set")


def tune_args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "finetune", "--base", str(model), "--data", str(data), "--out", str(out),
        "--batch-size", "4", "--rank", "4", "--alpha", "8", "--seed", "5", *extra,
    ]  # fmt: skip


def summary(out: Path) -> dict:
    return json.loads((out / "tune-summary.json").read_text(encoding="utf-8"))


def test_killed_run_resumes_to_the_same_steps_and_weights(
    tiny_whisper: Path, data: Path, tmp_path: Path
) -> None:
    steps = ["--max-steps", "40", "--validation-fraction", "0", "--lr", "1e-2"]
    voxtune(*tune_args(tiny_whisper, data, tmp_path / "whole", *steps))
    assert summary(tmp_path / "whole")["steps"] == 40

    out = tmp_path / "killed"
    args = tune_args(tiny_whisper, data, out, *steps, "--checkpoint-every", "1")
    killed_at = kill_after_checkpoint(args, out, step=3)
    assert 3 <= killed_at < 40

    resumed = voxtune(*args, "--resume")

    assert f"resumed from step {killed_at}" in resumed.stdout
    assert summary(out)["steps"] == 40
    whole, again = load_file(tmp_path / "whole" / ADAPTER_WEIGHTS), load_file(out / ADAPTER_WEIGHTS)
    assert whole.keys() == again.keys()
    for name, value in whole.items():
        torch.testing.assert_close(again[name], value, rtol=1e-4, atol=1e-6, msg=name)
    # Training moved the weights: the comparison above is not between two untouched adapters.
    assert any(v.abs().max() > 0 for k, v in whole.items() if "lora_B" in k)


def test_adapter_merge_and_registration(tiny_whisper: Path, data: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import WhisperForConditionalGeneration

    out = tmp_path / "run"
    done = voxtune(
        *tune_args(tiny_whisper, data, out, "--max-steps", "3", "--targets", "attention"),
        "--register", "tiny-tuned", "--validation-fraction", "0",
    )  # fmt: skip
    assert "registered: voxtune transcribe --model tiny-tuned" in done.stdout
    result = summary(out)
    assert result["steps"] == 3 and result["registered_as"] == "tiny-tuned"

    base = WhisperForConditionalGeneration.from_pretrained(tiny_whisper)
    tuned = PeftModel.from_pretrained(base, out / "adapter")
    wrapped = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in tuned.named_modules()
               if n.endswith("lora_A")}  # fmt: skip
    assert wrapped == {"q_proj", "k_proj", "v_proj", "out_proj"}
    assert all(".decoder." in n for n, _ in tuned.named_modules() if n.endswith("lora_A"))

    from voxtune.engine.models import list_models

    assert "tiny-tuned" in [info.name for info in list_models()]
    audio = sorted(data.glob("*.wav"))[0]
    transcribed = voxtune(
        "transcribe", str(audio), "--model", "tiny-tuned", "-f", "json", "-o", str(tmp_path),
        "-q", "--beam-size", "1",
    )  # fmt: skip
    assert transcribed.returncode == 0
    payload = json.loads((tmp_path / audio.with_suffix(".json").name).read_text())
    assert payload["model"] == "tiny-tuned"

    evaluated = voxtune(
        "eval", str(write_manifest(data, tmp_path)), "--model", str(tiny_whisper),
        "--adapter", str(out / "adapter"), "--beam-size", "1", "--no-vad",
    )  # fmt: skip
    assert "model tiny-whisper+adapter" in evaluated.stdout


def write_manifest(data: Path, directory: Path) -> Path:
    lines = ["path\treference"]
    for audio in sorted(data.glob("*.wav"))[:2]:
        lines.append(f"{audio}\t{audio.with_suffix('.txt').read_text().strip()}")
    manifest = directory / "eval.tsv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def test_early_stopping_keeps_the_best_step(tiny_whisper: Path, data: Path, tmp_path: Path) -> None:
    from voxtune.engine.tune import TuneConfig, run_tune

    config = TuneConfig(
        data=data, out=tmp_path / "out", base=str(tiny_whisper), batch_size=4, lora_rank=2,
        learning_rate=1e-12, max_steps=30, eval_every=1, patience=2, validation_fraction=0.25,
    )  # fmt: skip
    events = list(run_tune(config))
    kinds = [e.kind for e in events]
    finished = events[-1]
    # A learning rate this small changes nothing, so WER never improves after the first eval.
    assert finished.stopped_early and finished.steps == 3 and finished.best_step == 1
    assert kinds.count("tune_step") == 3 and kinds.count("tune_eval") == 1 + 3 + 1
    assert kinds[:2] == ["tune_data_checked", "tune_started"]
    step = next(e for e in events if e.kind == "tune_step")
    assert step.loss > 0 and step.samples_per_second > 0 and step.learning_rate > 0


def test_bad_rows_fail_with_one_line_naming_them(tiny_whisper: Path, data: Path, tmp_path: Path):
    manifest = tmp_path / "data.csv"
    first = sorted(data.glob("*.wav"))[0]
    manifest.write_text(
        f"audio,text\n{first},hello there\n{tmp_path / 'gone.wav'},missing audio\n",
        encoding="utf-8",
    )
    failed = voxtune(
        *tune_args(tiny_whisper, manifest, tmp_path / "out", "--on-bad-rows", "fail"), check=False
    )
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1] == (
        f"voxtune: error: {manifest}: 1 bad rows: data.csv: row 3: audio "
        f"{tmp_path / 'gone.wav'} not found"
    )
    skipped = voxtune(
        *tune_args(tiny_whisper, manifest, tmp_path / "out2", "--max-steps", "1"),
        "--validation-fraction", "0",
    )  # fmt: skip
    assert f"skipped data.csv: row 3: audio {tmp_path / 'gone.wav'} not found" in skipped.stderr
    assert "data: 1 training rows, 0 validation" in skipped.stdout


def test_bad_options_and_adapters_are_one_line_errors(tiny_whisper: Path, tmp_path: Path) -> None:
    failed = voxtune(*tune_args(tiny_whisper, tmp_path, tmp_path / "o", "--lr", "-1"), check=False)
    assert failed.stderr.strip() == "voxtune: error: finetune: the learning rate must be positive"
    from voxtune.engine.errors import ModelError
    from voxtune.engine.tune import load_with_adapter

    with pytest.raises(ModelError, match=f"^{tmp_path}: not a LoRA adapter directory"):
        load_with_adapter(tmp_path, base=str(tiny_whisper))


def test_full_fine_tune_of_the_encoder_changes_only_the_encoder(
    tiny_whisper: Path, data: Path, tmp_path: Path
) -> None:
    from voxtune.engine.tune import TuneConfig, run_tune

    config = TuneConfig(
        data=data, out=tmp_path / "out", base=str(tiny_whisper), method="full", train="encoder",
        batch_size=4, max_steps=2, validation_fraction=0, gradient_checkpointing=True,
    )  # fmt: skip
    finished = list(run_tune(config))[-1]
    assert finished.adapter == str(tmp_path / "out" / "model")
    before, after = (
        load_file(tiny_whisper / "model.safetensors"),
        load_file(tmp_path / "out" / "model" / "model.safetensors"),
    )
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("model.encoder.") for k in changed)
    assert any("layers.0.self_attn.q_proj" in k for k in changed)


def test_lora_on_both_parts_wraps_encoder_and_decoder(
    tiny_whisper: Path, data: Path, tmp_path: Path
) -> None:
    from voxtune.engine.tune import TuneConfig, run_tune

    config = TuneConfig(
        data=data, out=tmp_path / "out", base=str(tiny_whisper), train="both", lora_rank=2,
        batch_size=4, max_steps=1, validation_fraction=0, lora_targets="attention",
    )  # fmt: skip
    list(run_tune(config))
    names = load_file(tmp_path / "out" / ADAPTER_WEIGHTS).keys()
    assert any(".encoder.layers." in n for n in names)
    assert any(".decoder.layers." in n for n in names)
    assert not any("fc1" in n or "fc2" in n for n in names)
