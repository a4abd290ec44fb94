"""The training loop: ``run_tune(config)`` yields progress events until the tune is done.

The caller drives it like ``Transcriber.transcribe``: iterate to train, stop iterating to
cancel. Batch order depends only on (seed, epoch) and dropout is seeded per step, so a run
resumed from a checkpoint continues exactly as the uninterrupted one would have.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from voxtune.engine.atomic import write_text
from voxtune.engine.tune.batching import bucketed_batches
from voxtune.engine.tune.checkpoint import (
    RunState,
    check_resumable,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    shaping_options,
)
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.tune.data import prepare_data
from voxtune.engine.tune.defaults import autocast_for
from voxtune.engine.tune.evaluate import score
from voxtune.engine.tune.events import (
    CheckpointSaved,
    EvalDone,
    StepDone,
    TuneEvent,
    TuneFinished,
    TuneStarted,
    WorstUtterance,
)
from voxtune.engine.tune.examples import Example
from voxtune.engine.tune.family import tune_family
from voxtune.engine.tune.general import general_examples, general_wer
from voxtune.engine.tune.modeling import (
    load_trainable_state,
    make_trainable,
    model_of,
    parameter_counts,
    trainable_state,
)
from voxtune.engine.tune.outputs import save_tuned
from voxtune.engine.tune.parallel import DataParallel
from voxtune.kernels.dispatch import patch_model

if TYPE_CHECKING:
    from voxtune.engine.tune.family import TuneFamily

SUMMARY = "tune-summary.json"  # the finished event, WER history and config, for people and tools


def run_tune(
    config: TuneConfig,
    should_stop: Callable[[], bool] | None = None,
    parallel: DataParallel | None = None,
) -> Iterator[TuneEvent]:
    """The tune's events; ``should_stop`` (asked after each step) ends it early the way
    patience does: the best weights so far are evaluated and saved (the app's Stop & save).
    To abandon a run without saving, stop iterating instead. ``parallel``: this process's
    place in a data-parallel run (``--devices``); one process by default."""
    from transformers.utils import logging as hf_logging

    from voxtune.engine.models import load_model

    parallel = parallel or DataParallel()
    if parallel.device is not None:
        config = replace(config, device=parallel.device)

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # our own progress is the events
    if config.resume and (checkpoint := latest_checkpoint(config.out)) is not None:
        check_resumable(checkpoint, config)  # before minutes of loading and encoding
    # Weights of its own (not the loader's shared ones, which other transcriptions in this
    # process may use): trained in place, with no second copy (3 GiB at 0.6B in float32).
    loaded = load_model(config.base, device=config.device, shared=False)
    family = tune_family(loaded)
    base = loaded.model
    data = yield from prepare_data(config, family, base)
    general = general_examples(config, family, base)
    general_before = general_wer(family, base, general, config.device)  # the base, untouched
    torch.manual_seed(config.seed)  # LoRA's initial weights: the same run for the same seed
    with warnings.catch_warnings():
        # peft still calls transformers' pre-5 names, which only warn about their rename.
        warnings.simplefilter("ignore", FutureWarning)
        trainable = make_trainable(base, config, family)
    kernels = patch_model(trainable, config.kernels)
    loop = TrainingLoop(
        config,
        trainable,
        family,
        data.train,
        data.validation,
        kernels.summary(),
        should_stop,
        parallel,
    )
    yield from loop.run()
    if not parallel.main:  # the first process writes the results; the others wait for it
        parallel.wait()
        return
    general_after = general_wer(family, loop.model, general, config.device)  # the kept weights
    adapter, merged, registered = save_tuned(config, trainable, loaded)
    finished = TuneFinished(
        steps=loop.state.step,
        stopped_early=loop.stopped_early,
        best_step=loop.state.best_step or loop.state.step,
        wer_before=loop.state.wer_before,
        wer_after=loop.wer_after,
        adapter=str(adapter),
        merged=str(merged) if merged else None,
        registered_as=registered,
        general_wer_before=general_before,
        general_wer_after=general_after,
    )
    summary = asdict(finished) | {
        # What the card of a push says about the data (``engine/publish``).
        "data": {"train_examples": len(data.train), "validation_examples": len(data.validation)},
        "history": loop.state.history,
        "config": _plain(config),
        "kernels": kernels.as_dict(),
    }
    write_text(config.out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    parallel.wait()
    yield finished


def _plain(config: TuneConfig) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}


class TrainingLoop:
    def __init__(
        self,
        config: TuneConfig,
        trainable: torch.nn.Module,
        family: TuneFamily,
        train: list[Example],
        validation: list[Example],
        kernels: str = "kernels off",
        should_stop: Callable[[], bool] | None = None,
        parallel: DataParallel | None = None,
    ) -> None:
        self.config = config
        self.parallel = parallel or DataParallel()
        self.kernels = kernels
        self.should_stop = should_stop or (lambda: False)
        self.trainable = trainable
        self.model = model_of(trainable)
        self.family = family
        self.train = train
        self.validation = validation
        self.device = config.device
        self.dtype = next(self.model.parameters()).dtype
        self.batches_per_epoch = math.ceil(len(train) / config.batch_size)
        steps_per_epoch = math.ceil(self.batches_per_epoch / config.gradient_accumulation)
        self.total_steps = config.max_steps or max(1, round(steps_per_epoch * config.epochs))
        self.eval_every = config.eval_every or steps_per_epoch
        parameters = [p for p in trainable.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            parameters, lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.state = RunState()
        self.best: dict[str, torch.Tensor] | None = None
        self.stopped_early = False
        self.wer_after: float | None = None
        self._last_worst: tuple[WorstUtterance, ...] = ()
        self._epoch_batches: dict[int, list[list[int]]] = {}

    def _lr_factor(self, step: int) -> float:
        warmup = max(1, round(self.config.warmup_fraction * self.total_steps))
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, self.total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def _autocast(self) -> AbstractContextManager:
        return autocast_for(self.device, self.config.precision)

    def run(self) -> Iterator[TuneEvent]:
        resumed = self._resume()
        trainable, total = parameter_counts(self.trainable)
        yield TuneStarted(self.total_steps, self.state.step, trainable, total, self.kernels)
        if not resumed and self.validation:
            event = self._evaluate("before")
            self.state.wer_before = event.wer
            yield event
        started, first_step = time.perf_counter(), self.state.step
        while self.state.step < self.total_steps and not self.stopped_early:
            loss = self._step()
            self.state.step += 1
            elapsed = time.perf_counter() - started
            done = self.state.step - first_step
            yield StepDone(
                step=self.state.step,
                total_steps=self.total_steps,
                epoch=self.state.step * self.config.gradient_accumulation / self.batches_per_epoch,
                loss=loss,
                learning_rate=self.schedule.get_last_lr()[0],
                samples_per_second=done
                * self.config.batch_size
                * self.config.gradient_accumulation
                / elapsed,
                eta_seconds=elapsed / done * (self.total_steps - self.state.step),
            )
            if self.validation and self.state.step % self.eval_every == 0:
                yield self._evaluate_and_track()
            every = self.config.checkpoint_every
            if every and self.state.step % every == 0 and self.state.step < self.total_steps:
                yield self._checkpoint()
            if self.should_stop():
                self.stopped_early = True
        if self.validation:
            yield self._final_evaluation()

    def _final_evaluation(self) -> EvalDone:
        """WER of the weights kept: the best seen, not evaluated again when just measured."""
        if self.best is None:
            self.state.best_step = self.state.step  # nothing to compare with: the last is kept
        elif self.state.best_step != self.state.step:
            load_trainable_state(self.trainable, self.best)
        last = self.state.history[-1] if self.state.history else None
        if last is not None and last["step"] == self.state.step == self.state.best_step:
            event = EvalDone(self.state.step, last["wer"], "after", self._last_worst)
        else:
            event = self._evaluate("after")
        self.wer_after = event.wer
        return EvalDone(self.state.best_step or self.state.step, event.wer, "after", event.worst)

    def _resume(self) -> bool:
        if not self.config.resume:
            return False
        path = latest_checkpoint(self.config.out)
        if path is None:
            return False
        self.state, weights, self.best = load_checkpoint(path, self.optimizer)
        load_trainable_state(self.trainable, weights)
        with warnings.catch_warnings():
            # Replaying the schedule without optimizer steps is what resuming means here.
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(self.state.step):
                self.schedule.step()
        return True

    def _batch(self, index: int) -> list[Example]:
        epoch, offset = divmod(index, self.batches_per_epoch)
        if epoch not in self._epoch_batches:
            lengths = [e.length for e in self.train]
            self._epoch_batches = {
                epoch: bucketed_batches(lengths, self.config.batch_size, self.config.seed, epoch)
            }
        return [self.train[i] for i in self._epoch_batches[epoch][offset]]

    def _step(self) -> float:
        self.trainable.train()
        torch.manual_seed(self.config.seed * 1_000_003 + self.state.step)
        accumulation = self.config.gradient_accumulation
        total = 0.0
        for micro in range(accumulation):
            batch = self._batch(self.state.step * accumulation + micro)
            # Data-parallel: this process's share, weighted by its size; the shares' gradients
            # are summed below. One process: the whole batch, weight 1.
            share = self.parallel.share(batch)
            if not share:
                continue
            with self._autocast():
                loss = self.family.loss(self.model, share, self.device, self.dtype)
            if len(share) < len(batch):  # its share of the batch's token-mean loss
                count = getattr(self.family, "loss_tokens", lambda e: len(e.labels))
                loss = loss * (sum(map(count, share)) / sum(map(count, batch)))
            (loss / accumulation).backward()
            total += loss.item() / accumulation
        parameters = [p for p in self.trainable.parameters() if p.requires_grad]
        self.parallel.sum_gradients(parameters)
        total = self.parallel.sum(total)
        torch.nn.utils.clip_grad_norm_(parameters, self.config.max_grad_norm)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total

    def _evaluate(self, label: str) -> EvalDone:
        hypotheses = self.family.transcribe(self.model, self.validation, self.device, self.dtype)
        wer, worst = score(self.validation, hypotheses, self.config.worst_shown)
        return EvalDone(self.state.step, wer, label, worst)

    def _evaluate_and_track(self) -> EvalDone:
        event = self._evaluate("step")
        self._last_worst = event.worst
        self.state.history.append(asdict(event) | {"worst": []})
        if self.state.best_wer is None or event.wer < self.state.best_wer:
            self.state.best_wer, self.state.best_step = event.wer, self.state.step
            self.state.evals_without_gain = 0
            self.best = trainable_state(self.trainable)
        else:
            self.state.evals_without_gain += 1
            patience = self.config.patience
            self.stopped_early = bool(patience) and self.state.evals_without_gain >= patience
        return event

    def _checkpoint(self) -> CheckpointSaved:
        if not self.parallel.main:  # the same weights everywhere: the first process saves
            return CheckpointSaved(self.state.step, "")
        path = save_checkpoint(
            self.config.out,
            self.state,
            trainable_state(self.trainable),
            self.best,
            self.optimizer,
            shaping_options(self.config),
        )
        return CheckpointSaved(self.state.step, str(path))
