"""The dispatcher on real models with peft LoRA: what it patches, what it refuses and why,
and that a patched model computes what the unpatched one does (interpreter on the CPU)."""

from __future__ import annotations

import pytest
import torch

from voxtune.kernels.dispatch import patch_model, unpatch_model


def tiny_whisper() -> torch.nn.Module:
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config = WhisperConfig(
        vocab_size=97, num_mel_bins=8, d_model=32, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=48,
        decoder_ffn_dim=48, max_source_positions=16, max_target_positions=16,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
    )  # fmt: skip
    torch.manual_seed(0)
    return WhisperForConditionalGeneration(config)


def tiny_qwen3() -> torch.nn.Module:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=101, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16,
    )  # fmt: skip
    torch.manual_seed(0)
    return Qwen3ForCausalLM(config)


def with_lora(model: torch.nn.Module, targets: list[str], dropout: float = 0.0):  # type: ignore[no-untyped-def]
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules=targets)
    )
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero: make the update count in the check
            torch.nn.init.normal_(parameter, std=0.1)
    return peft_model


def whisper_loss(model) -> torch.Tensor:  # type: ignore[no-untyped-def]
    features = torch.randn(2, 8, 32, generator=torch.Generator().manual_seed(3))
    labels = torch.tensor([[1, 5, 9, 2], [1, 7, 2, 0]])
    return model(input_features=features, labels=labels).loss


def qwen3_loss(model) -> torch.Tensor:  # type: ignore[no-untyped-def]
    ids = torch.tensor([[3, 5, 9, 11, 2], [4, 7, 8, 2, 0]])
    return model(input_ids=ids, labels=ids).loss


def lora_grads(model) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    ("build", "targets", "loss"),
    [
        (tiny_whisper, ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"], whisper_loss),
        (tiny_qwen3, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                      "down_proj"], qwen3_loss),
    ],
)  # fmt: skip
def test_patched_model_computes_what_peft_does(
    monkeypatch: pytest.MonkeyPatch,
    build,
    targets,
    loss,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    model = with_lora(build(), targets)
    expected = loss(model)
    expected.backward()
    expected_grads = lora_grads(model)
    model.zero_grad(set_to_none=True)

    report = patch_model(model, "auto")
    kernels = {kernel for _, kernel in report.patched}
    lora_layers = [name for name, kernel in report.patched if kernel == "lora"]
    assert {name.rsplit(".", 1)[-1] for name in lora_layers} == set(targets)
    norm = "layer_norm" if build is tiny_whisper else "rms_norm"
    assert kernels == {"lora", norm, "cross_entropy"}  # cross_entropy: the output projection
    assert report.refused == ()
    assert "layers patched" in report.summary()

    actual = loss(model)
    actual.backward()
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    actual_grads = lora_grads(model)
    assert actual_grads.keys() == expected_grads.keys()
    for name, grad in expected_grads.items():
        torch.testing.assert_close(actual_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)

    unpatch_model(model)
    assert all(not hasattr(m, "_voxtune_original_forward") for m in model.modules())


def test_refusals_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    model = with_lora(tiny_whisper(), ["q_proj", "fc1"], dropout=0.05)
    report = patch_model(model, "auto")
    refused = dict(report.refused)
    lora = [name for name in refused if name.endswith(("q_proj", "fc1"))]
    assert lora and all(refused[name] == "LoRA dropout 0.05 (kernel needs 0)" for name in lora)
    assert not any(name.endswith(("q_proj", "fc1")) for name, _ in report.patched)
    assert any(kernel == "layer_norm" for _, kernel in report.patched)  # norms still apply

    double = with_lora(tiny_whisper().double(), ["q_proj"])
    reasons = dict(patch_model(double, "auto").refused).values()
    assert reasons and all(reason.startswith("dtype torch.float64") for reason in reasons)


def test_off_and_cpu_without_interpreter_patch_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    model = with_lora(tiny_qwen3(), ["q_proj"])
    off = patch_model(model, "off")
    assert off.patched == off.refused == () and off.summary() == "kernels off"
    auto = patch_model(model, "auto")
    assert auto.patched == ()
    assert set(dict(auto.refused).values()) == {"device cpu (kernels need a CUDA GPU)"}
    assert auto.summary() == "kernels auto: none patched (device cpu (kernels need a CUDA GPU))"
    assert not any(hasattr(m, "_voxtune_original_forward") for m in model.modules())
