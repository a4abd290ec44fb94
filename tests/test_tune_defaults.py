"""Per-device defaults of ``voxtune finetune``: what --help promises is what runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from voxtune.engine.tune import TuneConfig
from voxtune.engine.tune.defaults import CPU_BATCH, GPU_BATCH, autocast_for, default_batch_size

VOXTUNE = Path(sys.executable).with_name("voxtune")


def test_help_documents_the_defaults_by_device() -> None:
    done = subprocess.run(
        [str(VOXTUNE), "finetune", "--help"], capture_output=True, text=True, check=True
    )
    assert "defaults by device" in done.stdout
    assert f"--batch-size {CPU_BATCH}, float32" in done.stdout
    assert f"--batch-size {GPU_BATCH}, bfloat16 autocast where the GPU" in done.stdout
    assert "Qwen3-ASR" in done.stdout


def test_batch_and_precision_follow_the_device() -> None:
    assert default_batch_size("cpu") == CPU_BATCH and default_batch_size("cuda:0") == GPU_BATCH
    with autocast_for("cpu", "auto"):  # float32 on a CPU: bfloat16 is emulated there
        assert not torch.is_autocast_enabled("cpu")
    with autocast_for("cpu", "bfloat16"):  # asked for explicitly, it is used
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        product = torch.ones(2, 2) @ torch.ones(2, 2)
    assert product.dtype == torch.bfloat16


def test_unknown_precision_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--precision must be one of"):
        TuneConfig(data=tmp_path, out=tmp_path, precision="float8")
