"""One dispatcher: patch a model's layers with Triton kernels only where a kernel is exact.

``patch_model`` walks the model once and, per layer, either patches its ``forward`` (peft's
LoRA ``Linear``, ``nn.LayerNorm``, an RMSNorm as Qwen3 writes it) or records why it refused
(device, dtype, shape, dropout, bias, DoRA…). A patched forward checks again at every call
what can change between calls (adapters disabled or merged, autocast, the input's device)
and takes the layer's own forward when the kernel no longer applies. Nothing else changes:
parameters, state dicts and peft's merge/save see the same modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MethodType

import torch

from voxtune.kernels.runtime import device_refusal, kernel_module, kernels_on

ORIGINAL = "_voxtune_original_forward"  # the layer's own forward, kept for unpatching
MAX_NORM_WIDTH = 65536
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class KernelReport:
    """Which layers run a kernel and why the others stay on torch (for summaries and logs)."""

    mode: str
    patched: tuple[tuple[str, str], ...] = ()  # (layer, kernel)
    refused: tuple[tuple[str, str], ...] = ()  # (layer, reason)

    def summary(self) -> str:
        """One line: ``kernels auto: 24 layers patched (lora 18, rms_norm 6); 4 refused (…)``."""
        if self.mode == "off":
            return "kernels off"
        if not self.patched and self.refused and len({r for _, r in self.refused}) == 1:
            return f"kernels {self.mode}: none patched ({self.refused[0][1]})"
        counts = _count(kernel for _, kernel in self.patched)
        line = f"kernels {self.mode}: {len(self.patched)} layers patched"
        if counts:
            line += f" ({counts})"
        if self.refused:
            line += f"; {len(self.refused)} refused ({_count(r for _, r in self.refused)})"
        return line

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "patched": {layer: kernel for layer, kernel in self.patched},
            "refused": {layer: reason for layer, reason in self.refused},
        }


def _count(names) -> str:  # type: ignore[no-untyped-def]
    tally: dict[str, int] = {}
    for name in names:
        tally[name] = tally.get(name, 0) + 1
    return ", ".join(f"{name} {n}" for name, n in tally.items())


def patch_model(model: torch.nn.Module, mode: str = "auto") -> KernelReport:
    """Patch every layer of ``model`` a kernel applies to (``mode`` auto), or none (off)."""
    if mode == "off":
        return KernelReport(mode)
    patched: list[tuple[str, str]] = []
    refused: list[tuple[str, str]] = []
    for name, module in model.named_modules():
        if hasattr(module, ORIGINAL):
            continue  # patched by an earlier call
        candidate = _candidate(module)
        if candidate is None:
            continue
        kernel, check, forward = candidate
        reason = check(module)
        if reason is None and not kernels_on(mode, _first_parameter(module)):
            reason = device_refusal(_first_parameter(module)) or "kernels off"
        if reason is not None:
            refused.append((name, reason))
            continue
        setattr(module, ORIGINAL, module.forward)
        module.forward = MethodType(forward, module)
        patched.append((name, kernel))
    return KernelReport(mode, tuple(patched), tuple(refused))


def unpatch_model(model: torch.nn.Module) -> None:
    for module in model.modules():
        if hasattr(module, ORIGINAL):
            del module.forward  # the instance attribute: the class's forward again
            delattr(module, ORIGINAL)


def _first_parameter(module: torch.nn.Module) -> torch.Tensor:
    return next(module.parameters())


Check = Callable[[torch.nn.Module], str | None]
Forward = Callable[..., torch.Tensor]


def _candidate(module: torch.nn.Module) -> tuple[str, Check, Forward] | None:
    if _is_peft_lora_linear(module):
        return "lora", _lora_refusal, _lora_forward
    if isinstance(module, torch.nn.LayerNorm):
        return "layer_norm", _layer_norm_refusal, _layer_norm_forward
    if _is_rms_norm(module):
        return "rms_norm", _rms_norm_refusal, _rms_norm_forward
    return None


# --- LoRA ---------------------------------------------------------------------------------


def _is_peft_lora_linear(module: torch.nn.Module) -> bool:
    try:
        from peft.tuners.lora.layer import Linear
    except ImportError:
        return False
    return isinstance(module, Linear)


def _lora_refusal(module) -> str | None:  # type: ignore[no-untyped-def]
    base = module.base_layer
    if not isinstance(base, torch.nn.Linear):
        return f"base layer is {type(base).__name__}, not Linear"
    if len(module.active_adapters) != 1:
        return f"{len(module.active_adapters)} active adapters (kernel takes one)"
    adapter = module.active_adapters[0]
    if adapter not in module.lora_A:
        return "no LoRA weights for the active adapter"
    if adapter in getattr(module, "lora_variant", {}) or module.use_dora.get(adapter, False):
        return "DoRA or another LoRA variant"
    dropout = module.lora_dropout[adapter]
    if not isinstance(dropout, torch.nn.Identity) and getattr(dropout, "p", 0.0) > 0:
        return f"LoRA dropout {dropout.p} (kernel needs 0)"
    if module.lora_B[adapter].bias is not None:
        return "LoRA bias (kernel has none)"
    if getattr(module, "fan_in_fan_out", False):
        return "fan_in_fan_out weights"
    if base.weight.requires_grad:
        return "base weight trains (kernel keeps it frozen)"
    a, b = module.lora_A[adapter].weight, module.lora_B[adapter].weight
    if base.weight.dtype not in FLOAT_DTYPES or a.dtype != base.weight.dtype:
        return f"dtype {base.weight.dtype}/{a.dtype}"
    if a.shape[0] > 128:
        return f"rank {a.shape[0]} > 128"
    if any(t.device != base.weight.device for t in (a, b)):
        return "adapter and base on different devices"
    return None


def _lora_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:  # type: ignore[no-untyped-def]
    original = getattr(self, ORIGINAL)
    if args or kwargs or self.disable_adapters or self.merged or _lora_refusal(self):
        return original(x, *args, **kwargs)
    if device_refusal(x) is not None:
        return original(x, *args, **kwargs)
    adapter = self.active_adapters[0]
    weight, bias = self.base_layer.weight, self.base_layer.bias
    a, b = self.lora_A[adapter].weight, self.lora_B[adapter].weight
    dtype = _autocast_dtype(x) or weight.dtype
    if x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
        return original(x, *args, **kwargs)  # mixed dtypes without autocast: torch decides
    kernels = kernel_module("lora")
    with torch.autocast(x.device.type, enabled=False):
        return kernels.lora_linear(
            x.to(dtype),
            weight.to(dtype),
            None if bias is None else bias.to(dtype),
            a.to(dtype),
            b.to(dtype),
            self.scaling[adapter],
        )


def _autocast_dtype(x: torch.Tensor) -> torch.dtype | None:
    kind = x.device.type
    if torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return None


# --- norms --------------------------------------------------------------------------------


def _is_rms_norm(module: torch.nn.Module) -> bool:
    """Qwen3's RMSNorm (and Llama's, which it copies): a weight and ``variance_epsilon``."""
    return (
        type(module).__name__.endswith("RMSNorm")
        and isinstance(getattr(module, "weight", None), torch.nn.Parameter)
        and isinstance(getattr(module, "variance_epsilon", None), float)
    )


def _norm_refusal(weight: torch.Tensor | None, width: int) -> str | None:
    if weight is None:
        return "no affine weight"
    if weight.dtype not in FLOAT_DTYPES:
        return f"dtype {weight.dtype}"
    if width > MAX_NORM_WIDTH:
        return f"width {width} > {MAX_NORM_WIDTH}"
    return None


def _layer_norm_refusal(module) -> str | None:  # type: ignore[no-untyped-def]
    if len(module.normalized_shape) != 1:
        return f"normalises {len(module.normalized_shape)} dimensions (kernel: the last)"
    return _norm_refusal(module.weight, module.normalized_shape[0])


def _rms_norm_refusal(module) -> str | None:  # type: ignore[no-untyped-def]
    if module.weight.dim() != 1:
        return "weight is not a vector"
    return _norm_refusal(module.weight, module.weight.shape[0])


def _norm_input_ok(self, x: torch.Tensor) -> bool:  # type: ignore[no-untyped-def]
    return (
        device_refusal(x) is None
        and x.dtype == self.weight.dtype
        and x.shape[-1] == self.weight.shape[0]
        and not torch.is_autocast_enabled(x.device.type)  # autocast runs norms in float32
    )


def _layer_norm_forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    if not _norm_input_ok(self, x):
        return getattr(self, ORIGINAL)(x)
    return kernel_module("norms").layer_norm(x, self.weight, self.bias, self.eps)


def _rms_norm_forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    if not _norm_input_ok(self, x):
        return getattr(self, ORIGINAL)(x)
    return kernel_module("norms").rms_norm(x, self.weight, self.variance_epsilon)
