"""Data-parallel tuning (``voxtune finetune --devices N``): one process per device.

``launch`` re-runs the same ``voxtune finetune`` command under torchrun
(``torch.distributed.run``), one process per device; in each, ``DataParallel.from_env``
sets up the process group through accelerate (NCCL on GPUs, gloo on CPUs) and places the
process on its own device. Every process builds the same model and data (same seed, same
LoRA weights); each optimizer step's global batch is cut into per-process shares, every
process backpropagates its share, and the gradients are summed across processes weighted by
share size, so the step is the single-process step over the whole batch (up to float sums
and the per-share loss means). Checkpoints, the adapter and the summary are written by the
first process only; ``--resume`` reads the same checkpoint in every process.

Gradients are averaged with one all-reduce per step (``accelerate.utils.reduce``) rather than
by wrapping the model in DistributedDataParallel: the families' losses call the transformers
model inside the peft wrapper, which a DDP wrapper's forward would not see.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from voxtune.engine.errors import VoxtuneError

T = TypeVar("T")
LAUNCHED = "VOXTUNE_DATA_PARALLEL"  # set in the processes torchrun starts


@dataclass(frozen=True)
class DataParallel:
    rank: int = 0
    world: int = 1
    accelerator: Any = None  # accelerate.Accelerator when world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> str | None:
        """This process's device (``cuda:R``, ``cpu``); None on one device (the config's)."""
        return None if self.accelerator is None else str(self.accelerator.device)

    @classmethod
    def from_env(cls) -> DataParallel:
        """The process group torchrun set up the environment for; one process otherwise."""
        if os.environ.get(LAUNCHED) != "1" or int(os.environ.get("WORLD_SIZE", "1")) < 2:
            return cls()
        from accelerate import Accelerator

        cpu = os.environ.get("VOXTUNE_DATA_PARALLEL_CPU") == "1"
        accelerator = Accelerator(cpu=cpu)
        return cls(accelerator.process_index, accelerator.num_processes, accelerator)

    def share(self, batch: Sequence[T]) -> list[T]:
        """This process's part of a global batch: every ``world``-th example from ``rank``."""
        return list(batch[self.rank :: self.world])

    def sum_gradients(self, parameters: Sequence[torch.nn.Parameter]) -> None:
        """Sum every parameter's gradient over the processes (each was scaled by its share)."""
        if self.world == 1:
            return
        from accelerate.utils import reduce

        grads = [
            torch.zeros_like(p) if p.grad is None else p.grad for p in parameters
        ]  # a process whose share was empty contributes zeros
        flat = reduce(torch.cat([g.reshape(-1) for g in grads]), reduction="sum")
        offset = 0
        for parameter, grad in zip(parameters, grads, strict=True):
            size = grad.numel()
            parameter.grad = flat[offset : offset + size].view_as(grad).clone()
            offset += size

    def sum(self, value: float) -> float:
        if self.world == 1:
            return value
        from accelerate.utils import reduce

        tensor = torch.tensor([value], dtype=torch.float64, device=self.accelerator.device)
        return float(reduce(tensor, reduction="sum").item())

    def wait(self) -> None:
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()

    def end(self) -> None:
        if self.accelerator is not None:
            self.accelerator.end_training()  # the process group, closed in order


def device_count(devices: str, device: str) -> int:
    """``--devices N|all`` as a number; VoxtuneError for what this machine cannot run."""
    if devices == "all":
        if not device.startswith("cuda"):
            raise VoxtuneError("--devices all counts GPUs; on a CPU give a number of processes")
        return max(1, torch.cuda.device_count())
    try:
        count = int(devices)
    except ValueError:
        raise VoxtuneError(f"--devices {devices}: expected a number or all") from None
    if count < 1:
        raise VoxtuneError(f"--devices must be at least 1, not {count}")
    if device.startswith("cuda") and count > torch.cuda.device_count():
        raise VoxtuneError(f"--devices {count}: this machine has {torch.cuda.device_count()} GPUs")
    return count


def launch(count: int, device: str, argv: Sequence[str]) -> int:
    """Run ``voxtune ARGV`` in ``count`` processes under torchrun; its exit code."""
    import subprocess

    env = dict(os.environ)
    env[LAUNCHED] = "1"
    env["VOXTUNE_DATA_PARALLEL_CPU"] = "0" if device.startswith("cuda") else "1"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={count}", "--local-ranks-filter=0",  # one process speaks
        "-m", "voxtune.app", *argv,
    ]  # fmt: skip
    return subprocess.run(command, env=env, check=False).returncode
