"""DTW and the median filter of Whisper's word alignment, on the device that holds the
attention (the method of openai-whisper's ``triton_ops.py``, written for our tie rules).

The references are ``engine/families/whisper/alignment.py``'s ``dtw`` and ``_median_filter``:
the path is the same one (ties prefer the diagonal step, then the row above), the filtered
values are the same numbers.
"""

from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl

from voxtune.kernels.backtrace import dtw_backtrace
from voxtune.kernels.runtime import interpreting

INTERPRETED = interpreting()
MAX_TOKENS = 1023  # one program holds a whole anti-diagonal: tokens + 1 lanes


@triton.jit
def _dtw_forward(cost_ptr, acc_ptr, trace_ptr, n, m, cost_stride, BLOCK: tl.constexpr):
    """Anti-diagonal d of the accumulated cost, stored skewed: acc[d, i] = A[i, d - i]."""
    i = tl.arange(0, BLOCK)
    width = n + 1
    for d in range(2, n + m + 1):
        lo = tl.maximum(1, d - m)
        hi = tl.minimum(n, d - 1)
        valid = (i >= lo) & (i <= hi)
        diagonal = tl.load(acc_ptr + (d - 2) * width + i - 1, mask=valid, other=float("inf"))
        above = tl.load(acc_ptr + (d - 1) * width + i - 1, mask=valid, other=float("inf"))
        left = tl.load(acc_ptr + (d - 1) * width + i, mask=valid, other=float("inf"))
        best = tl.minimum(tl.minimum(diagonal, above), left)
        choice = tl.where(diagonal == best, 0, tl.where(above == best, 1, 2))
        c = tl.load(cost_ptr + (i - 1) * cost_stride + (d - i - 1), mask=valid, other=0.0)
        tl.store(acc_ptr + d * width + i, c + best, mask=valid)
        tl.store(trace_ptr + d * width + i, choice.to(tl.int8), mask=valid)
        tl.debug_barrier()  # the next diagonal reads what every lane just wrote


@triton.jit
def _median_rows(x_ptr, out_ptr, length, padded, WIDTH: tl.constexpr, BLOCK: tl.constexpr,
                 WIDTH_BLOCK: tl.constexpr):  # fmt: skip
    """Median of each window of WIDTH values along a reflect-padded row, by rank counting."""
    row = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    offsets = tl.arange(0, WIDTH_BLOCK)
    inside = (cols[:, None] < length) & (offsets[None, :] < WIDTH)
    window = tl.load(
        x_ptr + row * padded + cols[:, None] + offsets[None, :], mask=inside, other=float("inf")
    ).to(tl.float32)
    median = tl.zeros((BLOCK,), dtype=tl.float32)
    for k in tl.static_range(WIDTH):
        value = tl.load(x_ptr + row * padded + cols + k, mask=cols < length, other=0.0)
        value = value.to(tl.float32)
        below = (window < value[:, None]) | ((window == value[:, None]) & (offsets[None, :] < k))
        rank = tl.sum(below.to(tl.int32), axis=1)
        median = tl.where(rank == WIDTH // 2, value, median)
    tl.store(out_ptr + row * length + cols, median.to(out_ptr.dtype.element_ty), mask=cols < length)


def median_filter(x: torch.Tensor, width: int) -> torch.Tensor:
    """Median over windows of ``width`` (odd) along the last axis, reflect-padded."""
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    padded = torch.nn.functional.pad(x, (pad, pad), mode="reflect").contiguous()
    length = x.shape[-1]
    rows = padded.reshape(-1, padded.shape[-1])
    out = torch.empty(rows.shape[0], length, device=x.device, dtype=x.dtype)
    block = 128
    _median_rows[(rows.shape[0], triton.cdiv(length, block))](
        rows, out, length, rows.shape[1], WIDTH=width, BLOCK=block,
        WIDTH_BLOCK=triton.next_power_of_2(width),
    )  # fmt: skip
    return out.reshape(x.shape)


def dtw(cost: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The monotonic path through ``cost`` (tokens x frames): rows and columns, as numpy."""
    n, m = cost.shape
    cost = cost.contiguous()
    acc = torch.full((n + m + 1, n + 1), float("inf"), device=cost.device, dtype=cost.dtype)
    acc[0, 0] = 0.0
    trace = torch.zeros((n + m + 1, n + 1), device=cost.device, dtype=torch.int8)
    _dtw_forward[(1,)](cost, acc, trace, n, m, cost.stride(0), BLOCK=triton.next_power_of_2(n + 1))
    steps = trace.cpu().numpy()
    return dtw_backtrace(lambda i, j: steps[i + j, i], n, m)
