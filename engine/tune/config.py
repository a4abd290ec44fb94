"""Everything that changes what a tune produces: one options object, not keyword soup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Batch sizes by device (engine/tune/defaults.py explains them); here, torch-free, for the UI.
CPU_BATCH, GPU_BATCH = 16, 32

# LoRA target presets; each family names the layers they mean (``family.TuneFamily``).
LORA_PRESETS = ("attention", "attention+mlp")
TRAIN_PARTS = ("decoder", "encoder", "both")
METHODS = ("lora", "full")
BAD_ROW_POLICIES = ("skip", "fail")
PRECISIONS = ("auto", "float32", "bfloat16")  # as ``defaults.PRECISIONS`` (kept torch-free)
KERNEL_MODES = ("auto", "off")  # as ``voxtune.kernels.KERNEL_MODES``
# English speech shipped with Voxtune (FLEURS dev clips, as ``export.verify.DEFAULT_MANIFEST``):
# the wizard's regression guard, scored before and after a tune (``general``).
GENERAL_SET = Path(__file__).resolve().parents[2] / "assets" / "eval-en" / "manifest.tsv"


@dataclass(frozen=True)
class TuneConfig:
    data: Path
    out: Path
    base: str = "whisper-tiny.en"
    validation: Path | None = None  # a separate validation set; else a seeded random split
    validation_fraction: float = 0.1
    general: Path | None = None  # general speech scored before and after (``GENERAL_SET``)
    seed: int = 0
    on_bad_rows: str = "skip"
    language: str | None = None  # default for rows without one (multilingual models)
    method: str = "lora"
    lora_rank: int = 32
    lora_alpha: int = 64
    lora_dropout: float = 0.05
    lora_targets: str = "attention+mlp"
    train: str = "decoder"  # which part learns; the rest is frozen
    epochs: float = 2.0
    max_steps: int | None = None  # overrides epochs when given
    batch_size: int = 16
    gradient_accumulation: int = 1
    learning_rate: float = 1e-3
    warmup_fraction: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False
    checkpoint_every: int = 0  # optimizer steps; 0: no checkpoints (no --resume)
    resume: bool = False
    eval_every: int = 0  # optimizer steps; 0: once per epoch
    patience: int = 0  # evaluations without a better validation WER before stopping; 0: never
    device: str = "cpu"
    precision: str = "auto"  # autocast: bfloat16 on GPUs that have it (``defaults``)
    kernels: str = "auto"  # Triton kernels where they apply (a GPU), "off": torch only
    merge: bool = False
    register_as: str | None = None  # a model name for ``voxtune transcribe --model NAME``
    worst_shown: int = 5

    def __post_init__(self) -> None:
        checks = (
            (self.method in METHODS, f"method must be one of {METHODS}"),
            (self.train in TRAIN_PARTS, f"--train must be one of {TRAIN_PARTS}"),
            (self.lora_targets in LORA_PRESETS, f"targets must be one of {LORA_PRESETS}"),
            (self.on_bad_rows in BAD_ROW_POLICIES, "--on-bad-rows must be skip or fail"),
            (self.precision in PRECISIONS, f"--precision must be one of {PRECISIONS}"),
            (self.kernels in KERNEL_MODES, f"--kernels must be one of {KERNEL_MODES}"),
            (self.lora_rank > 0 and self.lora_alpha > 0, "LoRA rank and alpha must be positive"),
            (0 <= self.lora_dropout < 1, "LoRA dropout must be in [0, 1)"),
            (self.batch_size > 0 and self.gradient_accumulation > 0, "batch sizes must be > 0"),
            (self.learning_rate > 0, "the learning rate must be positive"),
            (0 <= self.validation_fraction < 1, "the validation fraction must be in [0, 1)"),
            (self.epochs > 0 or bool(self.max_steps), "train for at least some steps"),
            (self.max_steps is None or self.max_steps > 0, "--max-steps must be at least 1"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def encoder_frozen(self) -> bool:
        return self.train == "decoder"
