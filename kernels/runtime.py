"""Where Triton kernels can run in this process, and whether they are switched on.

Triton's interpreter (``TRITON_INTERPRET=1``) runs kernels on CPU tensors; it decides at the
moment a kernel module is imported, so kernel modules are imported only through
``kernel_module``, never at the top of a module that may load earlier.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

import torch

from voxtune.kernels import KERNEL_MODES

_mode = "auto"  # the process-wide --kernels choice (the CLI sets it once, like torch threads)


def set_kernels_mode(mode: str) -> None:
    if mode not in KERNEL_MODES:
        raise ValueError(f"--kernels must be one of {KERNEL_MODES}")
    global _mode
    _mode = mode


def kernels_mode() -> str:
    return _mode


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "") == "1"


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def device_refusal(tensor: torch.Tensor) -> str | None:
    """Why no kernel can run on ``tensor``'s device, or None when one can."""
    if not triton_available():
        return "triton is not installed"
    if tensor.is_cuda:
        return None
    if tensor.device.type == "cpu" and interpreting():
        return None
    return f"device {tensor.device.type} (kernels need a CUDA GPU)"


def kernels_on(mode: str, tensor: torch.Tensor) -> bool:
    """Whether ``mode`` asks for kernels on ``tensor``'s device (auto: on a GPU only)."""
    return mode == "auto" and device_refusal(tensor) is None


def alignment_kernels_on(tensor: torch.Tensor) -> bool:
    """Whether word alignment runs its DTW and median filter as kernels (the process mode)."""
    return kernels_on(_mode, tensor)


def kernel_module(name: str) -> ModuleType:
    """``voxtune.kernels.<name>``, imported (or re-imported) in the interpreter's mode.

    A module first imported without ``TRITON_INTERPRET`` holds compiled-mode kernels that
    cannot run on CPU tensors; re-importing it under the interpreter swaps them.
    """
    module = importlib.import_module(f"voxtune.kernels.{name}")
    if getattr(module, "INTERPRETED", None) != interpreting():
        module = importlib.reload(module)
    return module


def alignment_kernels_line(mode: str, device: str) -> str | None:
    """The run summary's line for transcription when kernels run (None: torch, as always)."""
    if mode == "off" or not kernels_on(mode, torch.empty(0, device=device)):
        return None
    return f"kernels {mode}: word alignment (DTW, median filter) as Triton kernels on {device}"
