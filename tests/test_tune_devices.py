"""``voxtune finetune --devices 2`` on the CPU: two processes (torchrun, gloo through
accelerate) against one process with the same global batch, on a tiny random Whisper.

LoRA dropout is off, so both runs compute the same function; what may differ is the order
of float sums (each process sums its share, then the shares are summed), hence the
tolerance: after 6 steps at lr 1e-2 every adapter weight agrees within rtol 1e-3 / atol 1e-5.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tune_factory import jargon_sentences, speak, voxtune, write_folder_dataset

pytest.importorskip("accelerate", reason="accelerate is in the test extra")
ADAPTER_WEIGHTS = "adapter/adapter_model.safetensors"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tune-data")
    spoken = speak(jargon_sentences(12, seed=3), root / "wav", seed=3)
    return write_folder_dataset(spoken, root / "set")


def tune(model: Path, data: Path, out: Path, *extra: str) -> str:
    done = voxtune(
        "finetune", "--base", str(model), "--data", str(data), "--out", str(out),
        "--device", "cpu", "--batch-size", "4", "--rank", "4", "--alpha", "8", "--seed", "5",
        "--dropout", "0", "--max-steps", "6", "--validation-fraction", "0", "--lr", "1e-2",
        "--kernels", "off", *extra,
    )  # fmt: skip
    return done.stdout


def test_two_processes_match_one_with_the_same_global_batch_and_resume(
    tiny_whisper: Path, data: Path, tmp_path: Path
) -> None:
    tune(tiny_whisper, data, tmp_path / "one")
    two = tmp_path / "two"
    shown = tune(tiny_whisper, data, two, "--devices", "2", "--checkpoint-every", "2")

    assert shown.count("finished after 6 steps") == 1  # one process speaks for the run
    single = load_file(tmp_path / "one" / ADAPTER_WEIGHTS)
    parallel = load_file(two / ADAPTER_WEIGHTS)
    assert single.keys() == parallel.keys()
    for name, value in single.items():
        torch.testing.assert_close(parallel[name], value, rtol=1e-3, atol=1e-5, msg=name)
    # The runs trained: LoRA's B starts at zero and moved.
    assert any(v.abs().max() > 1e-3 for k, v in single.items() if "lora_B" in k)
    summary = json.loads((two / "tune-summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] == 6

    # --resume on two processes: from the first process's checkpoint at step 4, the last two
    # steps again, to the same weights.
    resumed = tmp_path / "resumed"
    shutil.copytree(two / "checkpoints", resumed / "checkpoints")
    assert sorted(p.name for p in (resumed / "checkpoints").iterdir())[-1] == "step-0000004"
    shown = tune(
        tiny_whisper, data, resumed, "--devices", "2", "--checkpoint-every", "2", "--resume"
    )
    assert "resumed from step 4" in shown
    again = load_file(resumed / ADAPTER_WEIGHTS)
    for name, value in parallel.items():
        torch.testing.assert_close(again[name], value, rtol=1e-4, atol=1e-6, msg=name)
