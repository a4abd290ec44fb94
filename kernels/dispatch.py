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
CHUNKED_LOSS = "_voxtune_chunked_loss"  # on an output projection: its loss may be chunked
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
    head = _output_projection(model)
    if head is not None and not hasattr(head[1], CHUNKED_LOSS):
        name, projection = head
        reason = _cross_entropy_refusal(projection)
        if reason is None and not kernels_on(mode, projection.weight):
            reason = device_refusal(projection.weight) or "kernels off"
        if reason is None:
            setattr(projection, CHUNKED_LOSS, True)  # the family's loss asks ``chunked_loss_head``
            patched.append((name, "cross_entropy"))
        else:
            refused.append((name, reason))
    return KernelReport(mode, tuple(patched), tuple(refused))


def unpatch_model(model: torch.nn.Module) -> None:
    for module in model.modules():
        if hasattr(module, ORIGINAL):
            del module.forward  # the instance attribute: the class's forward again
            delattr(module, ORIGINAL)
        if hasattr(module, CHUNKED_LOSS):
            delattr(module, CHUNKED_LOSS)


def chunked_loss_head(model: torch.nn.Module, device: str) -> torch.nn.Linear | None:
    """The output projection whose cross-entropy a family's tuning loss may compute with
    ``vocabulary_loss`` from the hidden states (the dispatcher allowed it and kernels run on
    ``device``), or None: compute the full logits and the loss as torch does."""
    head = _output_projection(model)
    if head is None or not getattr(head[1], CHUNKED_LOSS, False):
        return None
    if _cross_entropy_refusal(head[1]) or device_refusal(torch.empty(0, device=device)):
        return None
    return head[1]


def vocabulary_loss(
    head: torch.nn.Linear, hidden: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy of ``head(hidden)`` against ``targets`` (-100: ignored), one chunk of
    rows at a time: the logits over the whole vocabulary never exist at once."""
    weight = head.weight if head.weight.dtype == hidden.dtype else head.weight.to(hidden.dtype)
    return kernel_module("cross_entropy").chunked_cross_entropy(hidden, weight, targets)


def _output_projection(model: torch.nn.Module) -> tuple[str, torch.nn.Module] | None:
    """(name, module) of the model's output projection over the vocabulary, if it has one."""
    get = getattr(model, "get_output_embeddings", None)
    projection = get() if callable(get) else None
    if projection is None:
        return None
    for name, module in model.named_modules():
        if module is projection:
            return name, module
    return None


def _cross_entropy_refusal(module: torch.nn.Module) -> str | None:
    if type(module) is not torch.nn.Linear:
        return f"output projection is {type(module).__name__}, not a plain Linear (LoRA on it?)"
    if module.bias is not None:
        return "output projection has a bias"
    if module.weight.dtype not in FLOAT_DTYPES:
        return f"dtype {module.weight.dtype}"
    return None


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
