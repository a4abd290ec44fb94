"""From the user's data set to checked, split, tokenised and (when frozen) encoded examples."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.batching import split_rows
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.tune.datasets import read_dataset
from voxtune.engine.tune.events import BadRow, DataChecked, TuneEvent
from voxtune.engine.tune.examples import Example
from voxtune.engine.tune.validation import CheckedRow, bad_rows_error, check_rows

if TYPE_CHECKING:
    import torch

    from voxtune.engine.tune.family import TuneFamily


@dataclass
class PreparedData:
    train: list[Example]
    validation: list[Example]


def prepare_data(
    config: TuneConfig, family: TuneFamily, model: torch.nn.Module
) -> Generator[TuneEvent, None, PreparedData]:
    if config.language and (problem := family.language_problem(config.language)):
        raise VoxtuneError(f"--language: {problem}")
    train_rows, bad = _checked(config.data, config, family)
    if config.validation is not None:
        validation_rows, bad_validation = _checked(config.validation, config, family)
        bad += bad_validation
    else:
        train_rows, validation_rows = split_rows(
            train_rows, config.validation_fraction, config.seed
        )
    if not train_rows:
        why = f": {bad_rows_error(str(config.data), bad)}" if bad else ""
        raise VoxtuneError(f"{config.data}: no usable training rows{why}")
    if not validation_rows and (config.validation is not None or config.validation_fraction > 0):
        # Without validation rows every "best" checkpoint and early stop would be blind.
        source = config.validation or config.data
        skipped = f"; {len(bad)} rows were skipped" if bad else ""
        raise VoxtuneError(
            f"{source}: no usable validation rows ({len(train_rows)} usable training rows"
            f"{skipped}); fix the rows, add data, or pass --validation-fraction 0"
        )
    yield DataChecked(len(train_rows), len(validation_rows), tuple(bad))

    def examples(rows: list[CheckedRow]) -> list[Example]:
        return family.build_examples(
            rows,
            model,
            encode=config.encoder_frozen,
            default_language=config.language,
            device=config.device,
        )

    return PreparedData(examples(train_rows), examples(validation_rows))


def check_data(config: TuneConfig, family: TuneFamily) -> DataChecked:
    """Every row of the data (and validation) set checked, the bad ones with their reasons.

    The wizard's Data step: unlike a tune it never stops at bad rows, so the user sees them
    all; the split is the one the tune will make, so the counts are the tune's counts.
    """
    if config.language and (problem := family.language_problem(config.language)):
        raise VoxtuneError(f"--language: {problem}")
    train_rows, bad = _checked(config.data, replace(config, on_bad_rows="skip"), family)
    if config.validation is not None:
        validation_rows, bad_validation = _checked(
            config.validation, replace(config, on_bad_rows="skip"), family
        )
        bad += bad_validation
    else:
        train_rows, validation_rows = split_rows(
            train_rows, config.validation_fraction, config.seed
        )
    return DataChecked(len(train_rows), len(validation_rows), tuple(bad))


def _checked(
    source: Path, config: TuneConfig, family: TuneFamily
) -> tuple[list[CheckedRow], list[BadRow]]:
    good, bad = check_rows(
        read_dataset(source),
        family.count_tokens,
        family.max_text_tokens(),
        family.language_problem,
    )
    if bad and config.on_bad_rows == "fail":
        raise bad_rows_error(str(source), bad)
    return good, bad
