"""From the user's data set to checked, split, tokenised and (when frozen) encoded examples."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.batching import split_rows
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.tune.datasets import read_dataset
from voxtune.engine.tune.events import BadRow, DataChecked, TuneEvent
from voxtune.engine.tune.examples import Example, build_examples
from voxtune.engine.tune.validation import CheckedRow, bad_rows_error, check_rows

if TYPE_CHECKING:
    import torch
    from transformers import WhisperProcessor

PROMPT_TOKENS = 4  # start of transcript, language, task, no-timestamps


@dataclass
class PreparedData:
    train: list[Example]
    validation: list[Example]


def prepare_data(
    config: TuneConfig, processor: WhisperProcessor, model: torch.nn.Module, multilingual: bool
) -> Generator[TuneEvent, None, PreparedData]:
    tokenizer = processor.tokenizer
    max_tokens = model.config.max_target_positions - PROMPT_TOKENS - 1

    def count_tokens(text: str) -> int:
        return len(tokenizer(" " + text, add_special_tokens=False).input_ids)

    train_rows, bad = _checked(config.data, config, count_tokens, max_tokens)
    if config.validation is not None:
        validation_rows, bad_validation = _checked(
            config.validation, config, count_tokens, max_tokens
        )
        bad += bad_validation
    else:
        train_rows, validation_rows = split_rows(
            train_rows, config.validation_fraction, config.seed
        )
    if not train_rows:
        raise VoxtuneError(f"{config.data}: no usable training rows")
    yield DataChecked(len(train_rows), len(validation_rows), tuple(bad))

    def examples(rows: list[CheckedRow]) -> list[Example]:
        return build_examples(
            rows,
            processor,
            model,
            encode=config.encoder_frozen,
            multilingual=multilingual,
            default_language=config.language,
            device=config.device,
        )

    return PreparedData(examples(train_rows), examples(validation_rows))


def _checked(
    source: Path, config: TuneConfig, count_tokens: Callable[[str], int], max_tokens: int
) -> tuple[list[CheckedRow], list[BadRow]]:
    good, bad = check_rows(read_dataset(source), count_tokens, max_tokens)
    if bad and config.on_bad_rows == "fail":
        raise bad_rows_error(str(source), bad)
    return good, bad
