"""Make a loaded model trainable: LoRA through peft, or full fine-tuning of one part."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from voxtune.engine.tune.config import TuneConfig

if TYPE_CHECKING:
    from voxtune.engine.tune.family import TuneFamily


def _part_prefixes(family: TuneFamily, part: str) -> tuple[str, ...]:
    if part == "both":
        return family.part_prefixes["encoder"] + family.part_prefixes["decoder"]
    return family.part_prefixes[part]


def _target_modules(model: torch.nn.Module, config: TuneConfig, family: TuneFamily) -> list[str]:
    """Full module names of the preset's Linear layers inside the part that trains."""
    suffixes = family.lora_targets[config.lora_targets]
    prefixes = _part_prefixes(family, config.train)
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and name.rsplit(".", 1)[-1] in suffixes
        and any(f".{p}" in f".{name}" for p in prefixes)
    ]


def make_trainable(
    model: torch.nn.Module, config: TuneConfig, family: TuneFamily
) -> torch.nn.Module:
    """The model to optimise: a peft model (LoRA) or the model with one part unfrozen."""
    if config.gradient_checkpointing:
        # Non-reentrant: works with frozen inputs (cached encoder outputs, LoRA's frozen base).
        reentrant = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=reentrant)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=reentrant)
    model.config.use_cache = False
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=_target_modules(model, config, family),
            bias="none",
        )
        return get_peft_model(model, lora)
    prefixes = _part_prefixes(family, config.train)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = any(f".{p}" in f".{name}" for p in prefixes)
    return model


def model_of(trainable: torch.nn.Module) -> torch.nn.Module:
    """The transformers model inside (with LoRA layers injected, when there are any)."""
    from peft import PeftModel

    return trainable.get_base_model() if isinstance(trainable, PeftModel) else trainable


def parameter_counts(model: torch.nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad
    }


def load_trainable_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            parameters[name].copy_(value)
