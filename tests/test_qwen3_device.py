"""Device and precision for Qwen3-ASR: what the CPU refuses, and the memory estimate the GPU
path checks before loading (no GPU here: the estimate and the refusal are checked directly)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.memory import (
    HEADROOM,
    check_fits,
    parameter_count,
    weight_bytes,
)
from voxtune.engine.models import load_model


def test_the_estimate_counts_every_parameter_the_model_loads(tiny_asr: Path) -> None:
    model = load_model(str(tiny_asr)).model
    loaded = sum(p.numel() for p in model.parameters())  # tied weights counted once
    assert parameter_count(tiny_asr) == loaded > 100_000
    assert weight_bytes(tiny_asr, "float32") == 4 * loaded
    assert weight_bytes(tiny_asr, "bfloat16") == weight_bytes(tiny_asr, "float16") == 2 * loaded


def test_a_model_that_does_not_fit_is_one_clear_line() -> None:
    needed = 4_000_000_000  # a 1.7B model's weights in bfloat16, about
    check_fits("qwen3-asr-1.7b", needed, int(needed * HEADROOM) + 1, "cuda", "bfloat16")
    with pytest.raises(ModelError) as error:
        check_fits("qwen3-asr-1.7b", needed, 3_000_000_000, "cuda:0", "bfloat16")
    assert str(error.value) == (
        "qwen3-asr-1.7b: does not fit on cuda:0: needs about 4.8 GB in bfloat16, 3.0 GB free "
        "(try bfloat16, a smaller model, or --device cpu)"
    )


def test_a_broken_header_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModelError, match=r"model\.safetensors: unreadable weights header"):
        parameter_count(tmp_path)


def test_float16_is_refused_on_the_cpu_and_bfloat16_runs(tiny_asr: Path, ivr_set: list) -> None:
    import torch

    from voxtune.engine.audio import decode_audio
    from voxtune.engine.transcribe import Qwen3Transcriber
    from voxtune.engine.types import TranscriptionOptions

    with pytest.raises(ModelError) as error:
        load_model(str(tiny_asr), dtype="float16")
    assert str(error.value) == (
        "tiny-qwen3-asr: float16 is for GPUs; on the CPU use float32 or bfloat16"
    )
    loaded = load_model(str(tiny_asr), dtype="bfloat16")
    assert loaded.dtype == torch.bfloat16
    assert next(loaded.model.parameters()).dtype == torch.bfloat16
    options = TranscriptionOptions(language="en", beam_size=2, vad=False)
    [segments] = Qwen3Transcriber(loaded).transcribe_batch([decode_audio(ivr_set[0].path)], options)
    assert segments and segments[0].text.strip() and segments[0].avg_logprob < 0
