"""Training checkpoints: enough to continue after a kill exactly where the run stood.

Trainable weights go to safetensors; the optimizer state through ``torch.save`` and back
only with ``weights_only=True`` (never unpickling arbitrary objects). A checkpoint folder
appears by rename, so a kill mid-write leaves the previous one intact.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.config import TuneConfig

KEEP = 2  # the newest checkpoints kept; older ones are removed
OPTIONS = "options.json"
# What shapes the run (the model, the data and their order, what trains, the schedule): a
# resumed run must have the same, or it is a different run. Evaluation frequency, patience,
# checkpoint frequency, the device and what happens to the result may change.
SHAPING_OPTIONS = {
    "base": "--base",
    "data": "--data",
    "validation": "--validation",
    "validation_fraction": "--validation-fraction",
    "seed": "--seed",
    "language": "--language",
    "method": "--method",
    "lora_rank": "--rank",
    "lora_alpha": "--alpha",
    "lora_dropout": "--dropout",
    "lora_targets": "--targets",
    "train": "--train",
    "epochs": "--epochs",
    "max_steps": "--max-steps",
    "batch_size": "--batch-size",
    "gradient_accumulation": "--grad-accum",
    "learning_rate": "--lr",
    "warmup_fraction": "--warmup",
    "weight_decay": "--weight-decay",
    "max_grad_norm": "--max-grad-norm",
}


@dataclass
class RunState:
    step: int = 0
    best_wer: float | None = None
    best_step: int = 0
    evals_without_gain: int = 0
    wer_before: float | None = None
    history: list[dict] = field(default_factory=list)


def checkpoints_dir(out: Path) -> Path:
    return out / "checkpoints"


def shaping_options(config: TuneConfig) -> dict[str, object]:
    """The options a resumed run must share, as JSON values (data paths made absolute)."""
    options: dict[str, object] = {}
    for name in SHAPING_OPTIONS:
        value = getattr(config, name)
        options[name] = str(value.resolve()) if isinstance(value, Path) else value
    return options


def check_resumable(checkpoint: Path, config: TuneConfig) -> None:
    """VoxtuneError naming every shaping option that differs from the checkpoint's run."""
    try:
        saved = json.loads((checkpoint / OPTIONS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return  # written before options were recorded: nothing to compare with
    except (OSError, ValueError) as exc:
        raise VoxtuneError(f"{checkpoint / OPTIONS}: unreadable ({exc})") from None
    differing = [
        f"{flag} (checkpoint {saved[name]!r}, now {value!r})"
        for name, flag in SHAPING_OPTIONS.items()
        if name in saved and saved[name] != (value := shaping_options(config)[name])
    ]
    if differing:
        raise VoxtuneError(
            f"{checkpoint}: cannot resume with different options: {'; '.join(differing)} "
            "(use the checkpoint's values, or a new --out)"
        )


def save_checkpoint(
    out: Path,
    state: RunState,
    weights: dict[str, torch.Tensor],
    best: dict[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer,
    options: dict[str, object],
) -> Path:
    root = checkpoints_dir(out)
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"step-{state.step:07d}"
    staging = root / f".{target.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    save_file(
        {k: v.contiguous() for k, v in weights.items()}, str(staging / "trainable.safetensors")
    )
    if best is not None:
        save_file({k: v.contiguous() for k, v in best.items()}, str(staging / "best.safetensors"))
    torch.save(optimizer.state_dict(), staging / "optimizer.pt")
    (staging / "state.json").write_text(json.dumps(asdict(state)), encoding="utf-8")
    (staging / OPTIONS).write_text(json.dumps(options, indent=2), encoding="utf-8")
    for name in os.listdir(staging):
        with open(staging / name, "rb") as handle:
            os.fsync(handle.fileno())
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    for old in sorted(root.glob("step-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def latest_checkpoint(out: Path) -> Path | None:
    found = sorted(checkpoints_dir(out).glob("step-*"))
    return found[-1] if found else None


def load_checkpoint(
    path: Path, optimizer: torch.optim.Optimizer
) -> tuple[RunState, dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    try:
        state = RunState(**json.loads((path / "state.json").read_text(encoding="utf-8")))
        weights = load_file(str(path / "trainable.safetensors"))
        best_file = path / "best.safetensors"
        best = load_file(str(best_file)) if best_file.is_file() else None
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise VoxtuneError(f"{path}: damaged checkpoint ({exc})") from None
    return state, weights, best
