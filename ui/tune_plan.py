"""What the wizard will tune: presets and the user's choices, made into one ``TuneConfig``.

Plain data, no widgets: the Plan page fills a ``TunePlan``, and ``tune_config`` is the one
place it becomes the engine's options, so a test can check a preset without a window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.tune.config import (
    CPU_BATCH,
    GENERAL_SET,
    GPU_BATCH,
    TRAIN_PARTS,
    TuneConfig,
)

CHECKPOINT_EVERY = 10  # optimizer steps between checkpoints: what Resume continues from


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    rank: int
    epochs: float
    train: str
    patience: int  # evaluations without a better WER before stopping; 0: never
    summary: str


PRESETS: dict[str, Preset] = {
    "Quick": Preset(
        "Quick", 32, 2.0, "decoder", 0, "LoRA r32 on the decoder, 2 epochs: minutes on a CPU"
    ),
    "Thorough": Preset(
        "Thorough",
        64,
        5.0,
        "decoder",
        3,
        "LoRA r64, up to 5 epochs, stops when validation WER stops improving",
    ),
    "Custom": Preset("Custom", 32, 2.0, "decoder", 0, "your own rank, epochs and trained part"),
}
assert all(p.train in TRAIN_PARTS for p in PRESETS.values())


@dataclass(frozen=True, slots=True)
class TunePlan:
    data: Path
    out: Path
    base: str
    preset: str = "Quick"
    rank: int = 32  # used by Custom
    epochs: float = 2.0  # used by Custom
    train: str = "decoder"  # used by Custom
    device: str = "cpu"
    register_as: str | None = None


def tune_config(plan: TunePlan) -> TuneConfig:
    """The engine's options for ``plan``: checkpoints on (for Resume), the result registered."""
    preset = PRESETS[plan.preset]
    custom = plan.preset == "Custom"
    rank = plan.rank if custom else preset.rank
    return TuneConfig(
        data=plan.data,
        out=plan.out,
        base=plan.base,
        lora_rank=rank,
        lora_alpha=2 * rank,
        epochs=plan.epochs if custom else preset.epochs,
        train=plan.train if custom else preset.train,
        patience=preset.patience,
        batch_size=GPU_BATCH if plan.device.startswith("cuda") else CPU_BATCH,
        device=plan.device,
        checkpoint_every=CHECKPOINT_EVERY,
        register_as=plan.register_as,
        general=GENERAL_SET,  # the Result page's regression guard
    )


def default_out(root: Path, base: str) -> Path:
    """A new folder per tune, named for its base and the time, under ``root``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return root / "tunes" / f"{Path(base).name}-{stamp}"


def registered_name(out: Path) -> str:
    """The model name the finished tune is registered as: its folder's name."""
    return f"tuned-{out.name}"
