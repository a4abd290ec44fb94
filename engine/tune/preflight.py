"""Before a tune starts: its rows checked, and its cost on this machine measured.

``check_tune_data`` is the wizard's Data step; ``estimate_tune`` its Plan step. The estimate
is measured, not guessed from a table: the real model is loaded, a batch of the user's own
rows is encoded, a few optimizer steps and a short evaluation run, and the whole run is
extrapolated from those times. Nothing is written into the tune's output folder.
"""

from __future__ import annotations

import gc
import math
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.checkpoint import KEEP
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.tune.data import check_data
from voxtune.engine.tune.events import DataChecked, TuneEstimate
from voxtune.engine.tune.family import tune_family
from voxtune.engine.tune.modeling import make_trainable, parameter_counts
from voxtune.engine.tune.trainer import TrainingLoop
from voxtune.kernels.dispatch import patch_model

MEASURED_STEPS = 2  # the first step pays for warm-up; the faster one is kept
EVAL_SAMPLE = 4  # validation rows transcribed to time an evaluation
ADAM_STATES = 2  # AdamW keeps two float32 moments per trainable parameter
FLOAT32 = 4


def check_tune_data(config: TuneConfig) -> DataChecked:
    from voxtune.engine.models import load_model

    loaded = load_model(config.base, device="cpu")  # the tokenizer counts; shared weights do
    return check_data(config, tune_family(loaded))


def estimate_tune(config: TuneConfig) -> TuneEstimate:
    from voxtune.engine.models import load_model
    from voxtune.engine.tune.data import prepare_data

    loaded = load_model(config.base, device=config.device, shared=False)
    family = tune_family(loaded)
    checked = check_data(config, family)
    if checked.train_rows == 0:
        raise VoxtuneError(f"{config.data}: no usable training rows")
    if config.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(config.device)
    with tempfile.TemporaryDirectory(prefix="voxtune-preflight-") as folder:
        sample = _sample_config(config, Path(folder))
        started = time.perf_counter()
        data = _drain(prepare_data(sample, family, loaded.model))
    per_row_encode = (time.perf_counter() - started) / max(
        1, len(data.train) + len(data.validation)
    )
    torch.manual_seed(config.seed)
    trainable = make_trainable(loaded.model, config, family)
    # The same kernels as the real run, or the measured step would time another computation.
    kernels = patch_model(trainable, config.kernels)
    loop = TrainingLoop(config, trainable, family, data.train, data.validation, kernels.summary())
    step_seconds = math.inf
    for _ in range(MEASURED_STEPS):
        started = time.perf_counter()
        loop._step()
        step_seconds = min(step_seconds, time.perf_counter() - started)
    # A sample smaller than the real batch steps faster; a step costs about its rows.
    real_batch = min(config.batch_size, checked.train_rows) * config.gradient_accumulation
    step_seconds *= max(1.0, real_batch / max(1, len(data.train)))
    per_row_eval = 0.0
    if data.validation:
        started = time.perf_counter()
        loop._evaluate("before")
        per_row_eval = (time.perf_counter() - started) / len(data.validation)
    total_steps = _total_steps(config, checked.train_rows)
    steps_per_epoch = math.ceil(
        math.ceil(checked.train_rows / config.batch_size) / config.gradient_accumulation
    )
    evaluations = 2 + total_steps // (config.eval_every or steps_per_epoch)
    seconds = (
        per_row_encode * (checked.train_rows + checked.validation_rows)
        + step_seconds * total_steps
        + per_row_eval * checked.validation_rows * evaluations
    )
    trainable_count, total_count = parameter_counts(trainable)
    example_bytes = _example_bytes(data.train) * (checked.train_rows + checked.validation_rows)
    peak, available = _memory(config.device)
    peak += example_bytes
    disk = _disk_bytes(config, trainable_count, total_count)
    free = shutil.disk_usage(_existing_parent(config.out)).free
    del loop, trainable, data, loaded
    gc.collect()
    return TuneEstimate(
        total_steps=total_steps,
        step_seconds=step_seconds,
        seconds=seconds,
        peak_memory_bytes=peak,
        available_memory_bytes=available,
        disk_bytes=disk,
        free_disk_bytes=free,
        device=config.device,
        warnings=_warnings(peak, available, disk, free, config),
    )


def _sample_config(config: TuneConfig, folder: Path) -> TuneConfig:
    """The same run on one batch of training rows and a few validation rows: a JSONL of the
    data set's first rows in ``folder`` (bad ones among them are skipped, as a tune would)."""
    import json

    from voxtune.engine.tune.datasets import read_dataset

    wanted = config.batch_size * config.gradient_accumulation + EVAL_SAMPLE
    rows = read_dataset(config.data)[: wanted + EVAL_SAMPLE]
    sample = folder / "sample.jsonl"
    with sample.open("w", encoding="utf-8") as handle:
        for row in rows:
            record = {"audio": str(row.audio), "text": row.text}
            if row.language:
                record["language"] = row.language
            handle.write(json.dumps(record) + "\n")
    return replace(
        config,
        data=sample,
        validation=None,
        validation_fraction=min(0.5, EVAL_SAMPLE / max(2, len(rows))),
        on_bad_rows="skip",
    )


def _drain(generator):  # type: ignore[no-untyped-def]
    """Run a generator to its end and return its value (its events are not needed here)."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            return stop.value


def _total_steps(config: TuneConfig, train_rows: int) -> int:
    batches = math.ceil(train_rows / config.batch_size)
    steps_per_epoch = math.ceil(batches / config.gradient_accumulation)
    return config.max_steps or max(1, round(steps_per_epoch * config.epochs))


def _example_bytes(examples: list) -> int:
    """Bytes one cached example holds (encoder outputs or features, and its tokens)."""
    if not examples:
        return 0
    total = 0
    for example in examples:
        for value in vars(example).values():
            if isinstance(value, torch.Tensor):
                total += value.numel() * value.element_size()
    return total // len(examples)


def _memory(device: str) -> tuple[int, int]:
    """(peak bytes while measuring, bytes a run may use) on ``device``."""
    if device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(device)
        peak = torch.cuda.max_memory_allocated(device)
        return peak, free + torch.cuda.memory_allocated(device)
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (
        1 if sys.platform == "darwin" else 1024
    )
    return peak, _available_ram() + _current_rss()


def _available_ram() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _current_rss() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _disk_bytes(config: TuneConfig, trainable: int, total: int) -> int:
    weights = trainable * FLOAT32
    # A checkpoint: the trainable weights, the best ones so far, and AdamW's moments.
    checkpoint = weights * (2 + ADAM_STATES)
    disk = weights + (KEEP * checkpoint if config.checkpoint_every else 0)
    if config.merge or config.method == "full":
        disk += total * FLOAT32
    return disk


def _existing_parent(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def _warnings(
    peak: int, available: int, disk: int, free: int, config: TuneConfig
) -> tuple[str, ...]:
    gib = 1024**3
    found = []
    if peak > available:
        found.append(
            f"needs about {peak / gib:.1f} GiB of memory on {config.device}, "
            f"{available / gib:.1f} GiB is free: lower the batch size or turn on "
            "gradient checkpointing"
        )
    if disk > free:
        found.append(
            f"needs about {disk / gib:.2f} GiB of disk in {config.out}, "
            f"{free / gib:.2f} GiB is free"
        )
    return tuple(found)
