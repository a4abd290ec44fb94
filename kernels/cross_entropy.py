"""Cross-entropy over a large vocabulary (Qwen3-ASR: 151,936 tokens) without the full logits.

Rows of hidden states are projected ``chunk`` at a time; a Triton kernel turns each chunk's
logits (in the model's dtype) into per-row losses and overwrites them with their gradient
(softmax - one-hot) / tokens, so the gradients of the hidden states and of the projection are
ready when the forward pass ends and at most one chunk of logits exists at any time. The
torch fallback takes the same chunks, each in float32.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from voxtune.kernels.runtime import device_refusal, interpreting

INTERPRETED = interpreting()
IGNORE_INDEX = -100


@triton.jit
def _loss_and_gradient(logits_ptr, labels_ptr, loss_ptr, vocab, stride, scale,
                       IGNORE: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    row = tl.program_id(0).to(tl.int64)
    base = logits_ptr + row * stride
    label = tl.load(labels_ptr + row)
    peak = -float("inf")
    total = 0.0
    for start in range(0, vocab, BLOCK):  # online log-sum-exp
        cols = start + tl.arange(0, BLOCK)
        x = tl.load(base + cols, mask=cols < vocab, other=-float("inf")).to(tl.float32)
        new_peak = tl.maximum(peak, tl.max(x, axis=0))
        total = total * tl.exp(peak - new_peak) + tl.sum(tl.exp(x - new_peak), axis=0)
        peak = new_peak
    lse = peak + tl.log(total)
    ignored = label == IGNORE
    target = tl.load(base + tl.where(ignored, 0, label)).to(tl.float32)
    tl.store(loss_ptr + row, tl.where(ignored, 0.0, lse - target))
    for start in range(0, vocab, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        x = tl.load(base + cols, mask=cols < vocab, other=0.0).to(tl.float32)
        grad = tl.exp(x - lse) - tl.where(cols == label, 1.0, 0.0)
        grad = tl.where(ignored, 0.0, grad * scale)
        tl.store(base + cols, grad.to(logits_ptr.dtype.element_ty), mask=cols < vocab)


def _chunk_loss_and_gradient(
    logits: torch.Tensor, labels: torch.Tensor, scale: float, use_kernel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed loss of the chunk and d(loss · scale)/d(logits), in the logits' dtype."""
    if use_kernel:
        losses = torch.empty(logits.shape[0], device=logits.device, dtype=torch.float32)
        _loss_and_gradient[(logits.shape[0],)](
            logits, labels, losses, logits.shape[1], logits.stride(0), scale,
            IGNORE=IGNORE_INDEX, BLOCK=1024 if not INTERPRETED else 4096,
        )  # fmt: skip
        return losses.sum(), logits
    wide = logits.float().requires_grad_()
    with torch.enable_grad():
        loss = torch.nn.functional.cross_entropy(
            wide, labels, ignore_index=IGNORE_INDEX, reduction="sum"
        )
        (grad,) = torch.autograd.grad(loss * scale, wide)
    return loss.detach(), grad.to(logits.dtype)


class _ChunkedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, labels, chunk):  # type: ignore[no-untyped-def]
        use_kernel = device_refusal(hidden) is None and hidden.dtype == weight.dtype
        tokens = max(1, int((labels != IGNORE_INDEX).sum()))
        scale = 1.0 / tokens
        d_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        d_weight = (
            torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        )
        total = torch.zeros((), device=hidden.device, dtype=torch.float32)
        for start in range(0, hidden.shape[0], chunk):
            rows = hidden[start : start + chunk]
            logits = rows @ weight.T  # one chunk, in the model's dtype
            loss, grad = _chunk_loss_and_gradient(
                logits, labels[start : start + chunk].contiguous(), scale, use_kernel
            )
            total += loss
            if d_hidden is not None:
                d_hidden[start : start + chunk] = grad @ weight
            if d_weight is not None:
                d_weight += (grad.T @ rows).float()
        ctx.save_for_backward(d_hidden, d_weight)
        ctx.weight_dtype = weight.dtype
        return total / tokens

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def]
        d_hidden, d_weight = ctx.saved_tensors
        dh = d_hidden * grad.to(d_hidden.dtype) if d_hidden is not None else None
        dw = (d_weight * grad).to(ctx.weight_dtype) if d_weight is not None else None
        return dh, dw, None, None


def chunked_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, chunk: int = 1024
) -> torch.Tensor:
    """Mean cross-entropy of ``hidden @ weight.T`` (rows x vocabulary) against ``labels``
    (``-100``: ignored), computed ``chunk`` rows at a time."""
    hidden = hidden.reshape(-1, hidden.shape[-1])
    return _ChunkedCrossEntropy.apply(hidden, weight, labels.reshape(-1), chunk)


def cross_entropy_reference(
    hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    logits = (hidden.reshape(-1, hidden.shape[-1]) @ weight.T).float()
    return torch.nn.functional.cross_entropy(logits, labels.reshape(-1), ignore_index=IGNORE_INDEX)
