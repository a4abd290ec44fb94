"""The families' tuning loss with kernels on: hidden states and the output projection go to the
chunked cross-entropy (no full logits), and the loss and LoRA gradients are the unpatched ones.

Real tiny models (tests/tune_factory.py, tests/model_factory.py) and real clips; Triton's
interpreter on the CPU (``TRITON_INTERPRET=1`` per test, as tests/test_kernels.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import Utterance

from voxtune.engine.models import load_model
from voxtune.engine.tune.examples import Example
from voxtune.kernels.dispatch import chunked_loss_head, patch_model, unpatch_model

CLIPS = ("Agent logged in.", "Please enter your password followed by the pound key.")
QWEN3_TARGETS = r".*language_model\..*\.(q_proj|v_proj|o_proj|down_proj)"
WHISPER_TARGETS = r".*decoder\..*\.(q_proj|v_proj|fc1)"


@pytest.fixture(autouse=True)
def interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")


def examples_of(family, model, ivr_set: list[Utterance]) -> list[Example]:  # type: ignore[no-untyped-def]
    from voxtune.engine.audio import decode_audio
    from voxtune.engine.tune.datasets import DataRow
    from voxtune.engine.tune.validation import CheckedRow

    chosen = [next(u for u in ivr_set if u.reference == text) for text in CLIPS]
    rows = [
        CheckedRow(DataRow(u.path.name, u.path, u.reference, "en"), decode_audio(u.path))
        for u in chosen
    ]
    options = {"default_language": None, "device": "cpu"}
    return family.build_examples(rows, model, encode=True, **options)


def with_lora(model: torch.nn.Module, targets: str) -> torch.nn.Module:
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=targets))
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero: make the update count in the check
            torch.nn.init.normal_(parameter, std=0.1, generator=torch.Generator().manual_seed(5))
    return peft_model


def loss_and_grads(family, model, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # type: ignore[no-untyped-def]
    model.zero_grad(set_to_none=True)
    loss = family.loss(model, batch, "cpu", torch.float32)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def check_chunked_equals_unpatched(family, loaded, targets: str, ivr_set) -> None:  # type: ignore[no-untyped-def]
    model = loaded.model
    batch = examples_of(family, model, ivr_set)
    trainable = with_lora(model, targets)
    assert chunked_loss_head(model, "cpu") is None  # not patched: the full logits, as always
    expected, expected_grads = loss_and_grads(family, model, batch)

    report = patch_model(trainable, "auto")
    assert [kernel for _, kernel in report.patched].count("cross_entropy") == 1
    assert chunked_loss_head(model, "cpu") is model.get_output_embeddings()
    # The chunked path must be what runs: the full logits' forward is never called.
    calls: list[int] = []
    hook = model.get_output_embeddings().register_forward_hook(lambda *_: calls.append(1))
    actual, actual_grads = loss_and_grads(family, model, batch)
    hook.remove()
    assert calls == []

    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    assert expected_grads.keys() == actual_grads.keys()
    assert any("lora_A" in n for n in expected_grads) and any("lora_B" in n for n in expected_grads)
    for name, grad in expected_grads.items():
        torch.testing.assert_close(actual_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)

    unpatch_model(trainable)
    assert chunked_loss_head(model, "cpu") is None


def test_qwen3_loss_with_chunked_cross_entropy_is_the_unpatched_loss(
    tmp_path: Path, ivr_set: list[Utterance]
) -> None:
    from tune_factory import build_trainable_qwen3

    from voxtune.engine.families.qwen3_asr.tune import Qwen3Family

    loaded = load_model(str(build_trainable_qwen3(tmp_path / "tiny-qwen3")))
    check_chunked_equals_unpatched(Qwen3Family(loaded), loaded, QWEN3_TARGETS, ivr_set)


def test_whisper_loss_with_chunked_cross_entropy_is_the_unpatched_loss(
    tiny_whisper: Path, ivr_set: list[Utterance]
) -> None:
    from voxtune.engine.families.whisper.tune import WhisperFamily

    loaded = load_model(str(tiny_whisper))
    check_chunked_equals_unpatched(WhisperFamily(loaded), loaded, WHISPER_TARGETS, ivr_set)


def test_without_a_kernel_device_the_loss_keeps_the_full_logits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    monkeypatch.delenv("TRITON_INTERPRET")
    model = Qwen3ForCausalLM(
        Qwen3Config(vocab_size=50, hidden_size=16, intermediate_size=16, num_hidden_layers=1,
                    num_attention_heads=2, num_key_value_heads=1, head_dim=8)
    )  # fmt: skip
    report = patch_model(model, "auto")
    assert ("lm_head", "device cpu (kernels need a CUDA GPU)") in report.refused
    assert chunked_loss_head(model, "cpu") is None
