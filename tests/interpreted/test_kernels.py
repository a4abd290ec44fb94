"""Every Triton kernel against its torch reference, under Triton's interpreter on the CPU.

``TRITON_INTERPRET=1`` is set per test (monkeypatch) and ``kernel_module`` re-imports a kernel
module in that mode, so the rest of a full run (which imports torch first) is unaffected.
Tolerances per dtype: float32 to rounding (1e-5 relative), bfloat16 to a few of its ulps
(8 bits of mantissa: 2e-2 relative) — the kernels accumulate in float32, torch in bfloat16.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxtune.engine.families.whisper import alignment as whisper_alignment
from voxtune.kernels.runtime import kernel_module

TOLERANCE = {torch.float32: (1e-5, 1e-5), torch.bfloat16: (2e-2, 6e-2)}  # (rtol, atol)


@pytest.fixture(autouse=True)
def interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")


def close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    rtol, atol = TOLERANCE[dtype]
    scale = max(1.0, float(expected.detach().float().abs().max()))  # large values: relative
    torch.testing.assert_close(actual.float(), expected.float(), rtol=rtol, atol=atol * scale)


def grads(output: torch.Tensor, inputs: tuple[torch.Tensor, ...], seed: int = 1):  # type: ignore[no-untyped-def]
    g = torch.randn(output.shape, generator=torch.Generator().manual_seed(seed)).to(output.dtype)
    return torch.autograd.grad(output, inputs, g)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("kind", ["rms", "layer"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5, 37), (300, 8)])
def test_norms_match_torch(dtype: torch.dtype, kind: str, shape: tuple[int, ...]) -> None:
    norms = kernel_module("norms")
    torch.manual_seed(0)
    width = shape[-1]
    x = torch.randn(shape, dtype=dtype).requires_grad_()
    w = (1 + torch.randn(width) / 3).to(dtype).requires_grad_()
    b = torch.randn(width).to(dtype).requires_grad_()
    if kind == "rms":
        ours, ref, inputs = norms.rms_norm(x, w, 1e-6), norms.rms_norm_reference(x, w, 1e-6), (x, w)
    else:
        ours, ref = norms.layer_norm(x, w, b, 1e-5), norms.layer_norm_reference(x, w, b, 1e-5)
        inputs = (x, w, b)
    assert ours.dtype == dtype and ours.shape == x.shape
    close(ours, ref, dtype)
    for mine, theirs in zip(grads(ours, inputs), grads(ref, inputs), strict=True):
        close(mine, theirs, dtype)


SHAPES = [(37, 45, 51, 5), (1, 16, 3, 1), (70, 33, 40, 17)]  # (rows, in, out, rank)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("m", "k", "n", "rank"), SHAPES)
def test_lora_linear_matches_peft_formula(
    dtype: torch.dtype, bias: bool, m: int, k: int, n: int, rank: int
) -> None:
    lora = kernel_module("lora")
    torch.manual_seed(0)
    x = torch.randn(2, m, k).to(dtype).requires_grad_()
    weight = (torch.randn(n, k) / k**0.5).to(dtype)
    b = torch.randn(n).to(dtype) if bias else None
    a = (torch.randn(rank, k) / k**0.5).to(dtype).requires_grad_()
    up = (torch.randn(n, rank) / 3).to(dtype).requires_grad_()
    ours = lora.lora_linear(x, weight, b, a, up, 2.0)
    ref = lora.lora_linear_reference(x, weight, b, a, up, 2.0)
    assert ours.shape == (2, m, n) and ours.dtype == dtype
    close(ours, ref, dtype)
    for mine, theirs in zip(grads(ours, (x, a, up)), grads(ref, (x, a, up)), strict=True):
        close(mine, theirs, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("chunk", [8, 1000])
def test_chunked_cross_entropy_matches_torch(dtype: torch.dtype, chunk: int) -> None:
    ce = kernel_module("cross_entropy")
    torch.manual_seed(0)
    vocab = 5003  # odd, and over one kernel block
    hidden = torch.randn(2, 21, 32).to(dtype).requires_grad_()
    weight = (torch.randn(vocab, 32) / 4).to(dtype).requires_grad_()
    labels = torch.randint(0, vocab, (2, 21))
    labels[0, :3] = -100  # prompt positions: ignored
    ours = ce.chunked_cross_entropy(hidden, weight, labels, chunk=chunk)
    ref = ce.cross_entropy_reference(hidden, weight, labels)
    close(ours, ref, torch.float32 if dtype == torch.float32 else dtype)
    mine = torch.autograd.grad(ours * 3, (hidden, weight))
    theirs = torch.autograd.grad(ref * 3, (hidden, weight))
    for a, b in zip(mine, theirs, strict=True):
        assert a.dtype == dtype
        close(a, b, dtype)


def test_chunked_cross_entropy_fallback_without_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ce = kernel_module("cross_entropy")
    monkeypatch.delenv("TRITON_INTERPRET")  # a CPU tensor, no interpreter: the torch chunks
    torch.manual_seed(0)
    hidden = torch.randn(9, 16, requires_grad=True)
    weight = torch.randn(301, 16, requires_grad=True)
    labels = torch.randint(0, 301, (9,))
    ours = ce.chunked_cross_entropy(hidden, weight, labels, chunk=4)
    ref = ce.cross_entropy_reference(hidden, weight, labels)
    close(ours, ref, torch.float32)
    for a, b in zip(
        torch.autograd.grad(ours, (hidden, weight)),
        torch.autograd.grad(ref, (hidden, weight)),
        strict=True,
    ):
        close(a, b, torch.float32)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 9), (9, 1), (3, 17), (13, 50), (40, 33)])
def test_dtw_path_is_the_aligners(n: int, m: int) -> None:
    kernels = kernel_module("alignment")
    cost = -torch.rand(n, m, generator=torch.Generator().manual_seed(n * m), dtype=torch.float64)
    rows, cols = kernels.dtw(cost)
    ref_rows, ref_cols = whisper_alignment.dtw(cost.numpy())
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(cols, ref_cols)


def test_dtw_breaks_ties_as_the_aligner() -> None:
    kernels = kernel_module("alignment")
    for cost in (torch.zeros(6, 11, dtype=torch.float64), -torch.ones(4, 4, dtype=torch.float64)):
        rows, cols = kernels.dtw(cost)
        ref_rows, ref_cols = whisper_alignment.dtw(cost.numpy())
        np.testing.assert_array_equal(rows, ref_rows)
        np.testing.assert_array_equal(cols, ref_cols)


@pytest.mark.parametrize("shape", [(3, 11, 37), (1, 1, 4), (2, 2, 9), (4, 200)])
def test_median_filter_is_the_aligners(shape: tuple[int, ...]) -> None:
    kernels = kernel_module("alignment")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator)
    assert torch.equal(kernels.median_filter(x, 7), whisper_alignment._median_filter(x, 7))
    ties = torch.randint(0, 3, shape, generator=generator).float()
    assert torch.equal(kernels.median_filter(ties, 7), whisper_alignment._median_filter(ties, 7))
