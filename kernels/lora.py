"""A LoRA linear layer in one pass: ``x Wᵀ + b + s · (x Aᵀ) Bᵀ``, forward and backward.

One kernel computes ``X P + s (X Q) R`` for any strides: the forward is (P, Q, R) = (Wᵀ, Aᵀ,
Bᵀ) and the input gradient is the same product with (W, B, A), so neither pass materialises
the low-rank update as a full-width tensor. The base weight is frozen (it gets no gradient);
the adapter gradients are two thin matmuls. Dropout must be 0: the kernel reads x once for
both products.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from voxtune.kernels.runtime import interpreting

INTERPRETED = interpreting()
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_RANK = 128


@triton.jit
def _low_rank_matmul(
    x_ptr, p_ptr, q_ptr, r_ptr, bias_ptr, out_ptr, xq_ptr, M, N, K, rank, scaling,
    sxm, sxk, spk, spn, sqk, sqr, srr, srn, som, son,
    HAS_BIAS: tl.constexpr, UPCAST: tl.constexpr,
    BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, BR: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rows = pid_m * BM + tl.arange(0, BM)
    cols = pid_n * BN + tl.arange(0, BN)
    ranks = tl.arange(0, BR)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    xq = tl.zeros((BM, BR), dtype=tl.float32)
    for k0 in range(0, K, BK):
        ks = k0 + tl.arange(0, BK)
        x = tl.load(
            x_ptr + rows[:, None] * sxm + ks[None, :] * sxk,
            mask=(rows[:, None] < M) & (ks[None, :] < K), other=0.0,
        )  # fmt: skip
        p = tl.load(
            p_ptr + ks[:, None] * spk + cols[None, :] * spn,
            mask=(ks[:, None] < K) & (cols[None, :] < N), other=0.0,
        )  # fmt: skip
        q = tl.load(
            q_ptr + ks[:, None] * sqk + ranks[None, :] * sqr,
            mask=(ks[:, None] < K) & (ranks[None, :] < rank), other=0.0,
        )  # fmt: skip
        if UPCAST:  # the interpreter multiplies bfloat16 as raw integers: widen first
            x, p, q = x.to(tl.float32), p.to(tl.float32), q.to(tl.float32)
        acc = tl.dot(x, p, acc)
        xq = tl.dot(x, q, xq)
    # Rounded to the input dtype as peft's lora_A output is, then the second thin product.
    xq_low = xq.to(out_ptr.dtype.element_ty)
    r = tl.load(
        r_ptr + ranks[:, None] * srr + cols[None, :] * srn,
        mask=(ranks[:, None] < rank) & (cols[None, :] < N), other=0.0,
    )  # fmt: skip
    if UPCAST:
        xq_low, r = xq_low.to(tl.float32), r.to(tl.float32)
    acc += scaling * tl.dot(xq_low, r)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + cols, mask=cols < N, other=0.0).to(tl.float32)[None, :]
    out_mask = (rows[:, None] < M) & (cols[None, :] < N)
    tl.store(
        out_ptr + rows[:, None] * som + cols[None, :] * son,
        acc.to(out_ptr.dtype.element_ty), mask=out_mask,
    )  # fmt: skip
    if pid_n == 0:  # x Q once per row block, for the adapter gradients
        tl.store(
            xq_ptr + rows[:, None] * rank + ranks[None, :],
            xq.to(xq_ptr.dtype.element_ty),
            mask=(rows[:, None] < M) & (ranks[None, :] < rank),
        )


def _product(
    x: torch.Tensor,
    p: torch.Tensor,
    q: torch.Tensor,
    r: torch.Tensor,
    bias: torch.Tensor | None,
    scaling: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x p + scaling · (x q) r (+ bias)`` and ``x q``; p, q, r may be transposed views."""
    (m, k), n, rank = x.shape, p.shape[1], q.shape[1]
    out = torch.empty(m, n, device=x.device, dtype=x.dtype)
    xq = torch.empty(m, rank, device=x.device, dtype=x.dtype)
    block = 64 if not INTERPRETED else 32
    grid = (triton.cdiv(m, block), triton.cdiv(n, block))
    _low_rank_matmul[grid](
        x, p, q, r, bias if bias is not None else out, out, xq, m, n, k, rank, scaling,
        x.stride(0), x.stride(1), p.stride(0), p.stride(1), q.stride(0), q.stride(1),
        r.stride(0), r.stride(1), out.stride(0), out.stride(1),
        HAS_BIAS=bias is not None, UPCAST=INTERPRETED,
        BM=block, BN=block, BK=32, BR=max(16, triton.next_power_of_2(rank)),
    )  # fmt: skip
    return out, xq


class _LoraLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, lora_a, lora_b, scaling):  # type: ignore[no-untyped-def]
        shape = x.shape
        rows = x.reshape(-1, shape[-1])
        out, xa = _product(rows, weight.T, lora_a.T, lora_b.T, bias, scaling)
        ctx.save_for_backward(rows, weight, lora_a, lora_b, xa)
        ctx.scaling, ctx.shape = scaling, shape
        return out.reshape(*shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def]
        rows, weight, lora_a, lora_b, xa = ctx.saved_tensors
        g = grad.reshape(-1, weight.shape[0])
        s = ctx.scaling
        dx = gb = None
        if ctx.needs_input_grad[0]:
            dx, gb = _product(g, weight, lora_b, lora_a, None, s)
            dx = dx.reshape(ctx.shape)
        else:
            gb = g @ lora_b
        da = (s * gb.T @ rows).to(lora_a.dtype) if ctx.needs_input_grad[3] else None
        db = (s * g.T @ xa).to(lora_b.dtype) if ctx.needs_input_grad[4] else None
        return dx, None, None, da, db, None


def lora_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    scaling: float,
) -> torch.Tensor:
    """``x Wᵀ + b + scaling · (x Aᵀ) Bᵀ``; W and b frozen, A and B learn."""
    return _LoraLinear.apply(x, weight, bias, lora_a, lora_b, float(scaling))


def lora_linear_reference(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    scaling: float,
) -> torch.Tensor:
    """What peft's ``lora.Linear`` computes with dropout 0."""
    linear = torch.nn.functional.linear
    return linear(x, weight, bias) + linear(linear(x, lora_a), lora_b) * scaling
