"""LayerNorm (Whisper) and RMSNorm (Qwen3) rows, forward and backward, in one Triton kernel
pair: one program per row, statistics in float32, the result in the input's dtype.

The references are the models' own formulas: ``torch.nn.functional.layer_norm`` and Qwen3's
``weight * (x.float() * rsqrt(mean(x²) + eps)).to(x.dtype)``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from voxtune.kernels.runtime import interpreting

INTERPRETED = interpreting()
MAX_WIDTH = 65536  # one row must fit one program's block
DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@triton.jit
def _norm_forward(
    x_ptr, w_ptr, b_ptr, y_ptr, mean_ptr, rstd_ptr, width, eps,
    RMS: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < width
    x = tl.load(x_ptr + row * width + cols, mask=mask, other=0.0).to(tl.float32)
    if RMS:
        mean = 0.0
        centred = x
    else:
        mean = tl.sum(x, axis=0) / width
        centred = tl.where(mask, x - mean, 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(centred * centred, axis=0) / width + eps)
    normed = centred * rstd
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    if RMS:
        # Qwen3 rounds the normalised row to the input dtype before the weight multiplies.
        normed = normed.to(y_ptr.dtype.element_ty).to(tl.float32)
    y = normed * w
    if HAS_BIAS:
        y += tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + row * width + cols, y.to(y_ptr.dtype.element_ty), mask=mask)
    tl.store(mean_ptr + row, mean)
    tl.store(rstd_ptr + row, rstd)


@triton.jit
def _norm_backward(
    x_ptr, w_ptr, g_ptr, mean_ptr, rstd_ptr, dx_ptr, dw_ptr, db_ptr, rows, width,
    RMS: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK: tl.constexpr, ROWS_PER_PROGRAM: tl.constexpr,
):  # fmt: skip
    program = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < width
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    dw = tl.zeros((BLOCK,), dtype=tl.float32)
    db = tl.zeros((BLOCK,), dtype=tl.float32)
    for i in range(ROWS_PER_PROGRAM):
        row = program.to(tl.int64) * ROWS_PER_PROGRAM + i
        if row < rows:
            x = tl.load(x_ptr + row * width + cols, mask=mask, other=0.0).to(tl.float32)
            g = tl.load(g_ptr + row * width + cols, mask=mask, other=0.0).to(tl.float32)
            mean = tl.load(mean_ptr + row)
            rstd = tl.load(rstd_ptr + row)
            normed = tl.where(mask, (x - mean) * rstd, 0.0)
            wg = g * w
            if RMS:
                dx = rstd * (wg - normed * tl.sum(wg * normed, axis=0) / width)
            else:
                dx = rstd * (
                    wg - tl.sum(wg, axis=0) / width - normed * tl.sum(wg * normed, axis=0) / width
                )
            tl.store(dx_ptr + row * width + cols, dx.to(dx_ptr.dtype.element_ty), mask=mask)
            dw += g * normed
            db += g
    tl.store(dw_ptr + program * width + cols, dw, mask=mask)
    if HAS_BIAS:
        tl.store(db_ptr + program * width + cols, db, mask=mask)


def _block(width: int) -> int:
    return triton.next_power_of_2(width)


class _Norm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps, rms):  # type: ignore[no-untyped-def]
        shape = x.shape
        rows_in = x.reshape(-1, shape[-1]).contiguous()
        rows, width = rows_in.shape
        y = torch.empty_like(rows_in)
        mean = torch.empty(rows, device=x.device, dtype=torch.float32)
        rstd = torch.empty_like(mean)
        _norm_forward[(rows,)](
            rows_in, weight.contiguous(), bias if bias is not None else weight, y, mean, rstd,
            width, eps, RMS=rms, HAS_BIAS=bias is not None, BLOCK=_block(width),
        )  # fmt: skip
        ctx.save_for_backward(rows_in, weight, bias, mean, rstd)
        ctx.rms, ctx.shape = rms, shape
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def]
        rows_in, weight, bias, mean, rstd = ctx.saved_tensors
        rows, width = rows_in.shape
        g = grad.reshape(rows, width).contiguous()
        dx = torch.empty_like(rows_in)
        per_program = max(1, triton.cdiv(rows, 256))  # partial weight sums: at most 256 rows
        programs = triton.cdiv(rows, per_program)
        dw = torch.empty(programs, width, device=g.device, dtype=torch.float32)
        db = torch.empty_like(dw) if bias is not None else dw
        _norm_backward[(programs,)](
            rows_in, weight.contiguous(), g, mean, rstd, dx, dw, db, rows, width,
            RMS=ctx.rms, HAS_BIAS=bias is not None, BLOCK=_block(width),
            ROWS_PER_PROGRAM=per_program,
        )  # fmt: skip
        dweight = dw.sum(0).to(weight.dtype) if ctx.needs_input_grad[1] else None
        dbias = db.sum(0).to(bias.dtype) if bias is not None and ctx.needs_input_grad[2] else None
        return dx.reshape(ctx.shape), dweight, dbias, None, None


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, eps: float
) -> torch.Tensor:
    return _Norm.apply(x, weight, bias, eps, False)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return _Norm.apply(x, weight, None, eps, True)


def layer_norm_reference(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, eps: float
) -> torch.Tensor:
    return torch.nn.functional.layer_norm(x, x.shape[-1:], weight, bias, eps)


def rms_norm_reference(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Qwen3RMSNorm's forward, as transformers writes it."""
    rows = x.float()
    rows = rows * torch.rsqrt(rows.pow(2).mean(-1, keepdim=True) + eps)
    return weight * rows.to(x.dtype)
