"""Per-device defaults of a tune, in one place: the CLI resolves and documents them.

A laptop CPU and a GPU want different batches and arithmetic: on the CPU float32 (bfloat16
is emulated on most laptop CPUs, slower not faster), on a GPU bfloat16 autocast where the
GPU has it (Ampere and newer), as its matrix units run it several times faster than
float32 at the same memory. The master weights and the optimizer stay float32 either way.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.config import CPU_BATCH, GPU_BATCH

DEVICE_HELP = f"""\
defaults by device (each can be set by its option):
  CPU (a laptop): --batch-size {CPU_BATCH}, float32, LoRA on the decoder with the encoder
      frozen, its outputs computed once and reused every epoch.
  CUDA GPU (used when present): --batch-size {GPU_BATCH}, bfloat16 autocast where the GPU
      supports it (Ampere or newer), else float32; otherwise the same.
  --gradient-checkpointing recomputes activations in the backward pass: less memory for
      more time (large models, --train encoder|both, or --method full on a small GPU).
"""


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_batch_size(device: str) -> int:
    return GPU_BATCH if device.startswith("cuda") else CPU_BATCH


def autocast_for(device: str, precision: str) -> AbstractContextManager:
    """The autocast context a training step runs in (a no-op for float32)."""
    import torch

    cuda = device.startswith("cuda")
    if precision == "auto":
        precision = "bfloat16" if cuda and torch.cuda.is_bf16_supported() else "float32"
    if precision == "float32":
        return nullcontext()
    if cuda and not torch.cuda.is_bf16_supported():
        raise VoxtuneError(f"--precision bfloat16: the GPU of {device} has no bfloat16")
    return torch.autocast(device_type="cuda" if cuda else "cpu", dtype=torch.bfloat16)
