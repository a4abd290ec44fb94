"""The regression guard: WER on general speech before and after a tune.

A tune on a few hundred jargon sentences can make a model worse at everything else
(FACTS.md: overfitting shows first on general speech), so the wizard scores a set of
ordinary English speech (``TuneConfig.general``; the app ships ``GENERAL_SET``) with the base
and with the tuned weights, and shows both beside the held-out WER.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.datasets import read_dataset
from voxtune.engine.tune.evaluate import score
from voxtune.engine.tune.validation import check_rows

if TYPE_CHECKING:
    import torch

    from voxtune.engine.tune.config import TuneConfig
    from voxtune.engine.tune.examples import Example
    from voxtune.engine.tune.family import TuneFamily


def general_examples(
    config: TuneConfig, family: TuneFamily, model: torch.nn.Module
) -> list[Example]:
    """The general set's usable rows as examples (none when no set is asked for, or when the
    model cannot hear its language: an English guard means nothing to a German-only model)."""
    if config.general is None:
        return []
    rows, bad = check_rows(
        read_dataset(config.general),
        family.count_tokens,
        family.max_text_tokens(),
        family.language_problem,
    )
    if bad and not rows:
        return []
    if not rows:
        raise VoxtuneError(f"{config.general}: the general set has no rows")
    return family.build_examples(
        rows, model, encode=config.encoder_frozen, default_language=None, device=config.device
    )


def general_wer(
    family: TuneFamily, model: torch.nn.Module, examples: list[Example], device: str
) -> float | None:
    if not examples:
        return None
    dtype = next(model.parameters()).dtype
    wer, _ = score(examples, family.transcribe(model, examples, device, dtype), 0)
    return wer
