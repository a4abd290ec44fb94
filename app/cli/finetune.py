"""``voxtune finetune --base M --data PATH --out DIR``: tune a model on your own recordings.

DATA is a folder of audio files with same-named .txt transcripts, a Hugging Face audiofolder
(metadata.csv), or a CSV/TSV/JSONL manifest with audio and text columns (and optionally
language). Every row is checked first; bad rows are listed, then skipped or fatal. Whisper
and Qwen3-ASR models tune the same way. The default is LoRA on the decoder with the encoder
frozen (its outputs are computed once); the result is a PEFT adapter in DIR/adapter,
optionally merged (--merge) and/or registered as a model (--register NAME).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.tune.config import KERNEL_MODES, PRECISIONS
from voxtune.engine.tune.defaults import CPU_BATCH, DEVICE_HELP, GPU_BATCH

if TYPE_CHECKING:
    from tqdm import tqdm

    from voxtune.engine.tune.events import TuneEvent, TuneFinished, TuneStarted

TARGETS_HELP = (
    "LoRA layers: attention (Whisper q/k/v/out_proj; Qwen3-ASR audio q/k/v/out_proj, text "
    "q/k/v/o_proj) or attention+mlp (also fc1/fc2; text gate/up/down_proj)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a model (LoRA) on your recordings",
        description=__doc__,
        epilog=DEVICE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base", "-m", default="whisper-tiny.en", help="model name or path")
    parser.add_argument("--data", required=True, type=Path, help="folder or manifest")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--validation", type=Path, help="a separate validation set")
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument(
        "--general",
        type=Path,
        metavar="MANIFEST",
        help="general speech scored before and after, a regression guard "
        "(the app uses the English set shipped in assets/eval-en)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--on-bad-rows", choices=("skip", "fail"), default="skip")
    parser.add_argument(
        "--language", help="language of rows that name none (multilingual models; default en)"
    )
    parser.add_argument("--method", choices=("lora", "full"), default="lora")
    parser.add_argument("--rank", type=int, default=32, help="LoRA rank")
    parser.add_argument("--alpha", type=int, default=64, help="LoRA alpha")
    parser.add_argument("--dropout", type=float, default=0.05, help="LoRA dropout")
    parser.add_argument(
        "--targets",
        choices=("attention", "attention+mlp"),
        default="attention+mlp",
        help=TARGETS_HELP,
    )
    parser.add_argument(
        "--train",
        choices=("decoder", "encoder", "both"),
        default="decoder",
        help="the part that learns; the rest is frozen (Qwen3-ASR: the audio encoder and its "
        "projector, or the text decoder)",
    )
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-steps", type=int, help="optimizer steps (overrides --epochs)")
    parser.add_argument(
        "--batch-size", type=int, help=f"default {CPU_BATCH} on a CPU, {GPU_BATCH} on a GPU"
    )
    parser.add_argument("--grad-accum", type=int, default=1, help="batches per optimizer step")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--warmup", type=float, default=0.1, help="warm-up fraction of steps")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--checkpoint-every", type=int, default=0, help="steps; 0: none")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint in --out (with the same training options)",
    )
    parser.add_argument("--eval-every", type=int, default=0, help="steps; 0: every epoch")
    parser.add_argument("--patience", type=int, default=0, help="early stopping; 0: off")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument(
        "--devices",
        default="1",
        metavar="N|all",
        help="data-parallel over N devices (all: every GPU), one process each, through "
        "torchrun and accelerate; --batch-size stays the global batch (on a CPU, N processes)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="autocast; auto: bfloat16 on GPUs that have it, float32 otherwise",
    )
    parser.add_argument(
        "--kernels",
        choices=KERNEL_MODES,
        default="auto",
        help="Triton kernels (LoRA linear, norms) where they apply: auto on a GPU; off: torch",
    )
    parser.add_argument("--merge", action="store_true", help="also save a merged full model")
    parser.add_argument(
        "--register",
        metavar="NAME",
        help="register as a model for --model NAME: the adapter on its base, or with --merge "
        "the merged model",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voxtune.engine.tune import TuneConfig, run_tune
    from voxtune.engine.tune.defaults import default_batch_size, default_device
    from voxtune.engine.tune.parallel import LAUNCHED, DataParallel, device_count, launch

    device = args.device or default_device()
    count = device_count(args.devices, device)
    try:
        config = TuneConfig(
            data=args.data,
            out=args.out,
            base=args.base,
            validation=args.validation,
            validation_fraction=args.validation_fraction,
            general=args.general,
            seed=args.seed,
            on_bad_rows=args.on_bad_rows,
            language=args.language,
            method=args.method,
            lora_rank=args.rank,
            lora_alpha=args.alpha,
            lora_dropout=args.dropout,
            lora_targets=args.targets,
            train=args.train,
            epochs=args.epochs,
            max_steps=args.max_steps,
            # 0 is refused by the config, not taken for "the default".
            batch_size=default_batch_size(device) if args.batch_size is None else args.batch_size,
            gradient_accumulation=args.grad_accum,
            learning_rate=args.lr,
            warmup_fraction=args.warmup,
            weight_decay=args.weight_decay,
            max_grad_norm=args.max_grad_norm,
            gradient_checkpointing=args.gradient_checkpointing,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            eval_every=args.eval_every,
            patience=args.patience,
            device=device,
            precision=args.precision,
            kernels=args.kernels,
            merge=args.merge,
            register_as=args.register,
        )
    except ValueError as exc:
        from voxtune.engine.errors import VoxtuneError

        raise VoxtuneError(f"finetune: {exc}") from None
    if count > 1 and os.environ.get(LAUNCHED) != "1":  # options checked once, here
        return launch(count, device, args.argv)
    parallel = DataParallel.from_env()
    show = ProgressView()
    try:
        for event in run_tune(config, parallel=parallel):
            if parallel.main:  # one process speaks for the run
                show(event)
    finally:
        show.close()
        parallel.end()
    return 0


class ProgressView:
    """Events as a progress bar on stderr and a table of evaluations on stdout."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def __call__(self, event: TuneEvent) -> None:
        from voxtune.engine.tune.report import percent, worst_lines

        kind = event.kind
        if kind == "tune_data_checked":
            for bad in event.bad_rows:
                print(f"skipped {bad}", file=sys.stderr)
            print(f"data: {event.train_rows} training rows, {event.validation_rows} validation")
        elif kind == "tune_started":
            self._start(event)
        elif kind == "tune_step":
            self.bar.update(event.step - self.bar.n)
            self.bar.set_postfix_str(
                f"loss {event.loss:.3f} lr {event.learning_rate:.2e} "
                f"{event.samples_per_second:.1f} samples/s ETA {event.eta_seconds:.0f}s"
            )
        elif kind == "tune_eval":
            self._write(f"{event.label:<8}{event.step:>8}{percent(event.wer):>10}")
            if event.label != "step" and event.worst:
                self._write(f"worst utterances ({event.label}):")
                for line in worst_lines(event.worst):
                    self._write(line)
        elif kind == "tune_checkpoint":
            self._write(f"checkpoint step {event.step}: {event.path}")
        elif kind == "tune_finished":
            self.close()
            self._finished(event)

    def _start(self, event: TuneStarted) -> None:
        from tqdm import tqdm

        share = 100 * event.trainable_parameters / max(1, event.total_parameters)
        print(f"training {event.trainable_parameters:,} parameters ({share:.1f}%)", flush=True)
        print(event.kernels, flush=True)
        if event.start_step:
            print(f"resumed from step {event.start_step}", flush=True)
        print(f"{'eval':<8}{'step':>8}{'WER %':>10}", flush=True)
        self.bar = tqdm(
            total=event.total_steps, initial=event.start_step, desc="tune", file=sys.stderr
        )

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.clear()
        print(line, flush=True)
        if self.bar is not None:
            self.bar.refresh()

    def _finished(self, event: TuneFinished) -> None:
        from voxtune.engine.tune.report import percent

        print(f"finished after {event.steps} steps (best at step {event.best_step})")
        if event.stopped_early:
            print("stopped early: validation WER stopped improving")
        print(f"WER before {percent(event.wer_before)}%  after {percent(event.wer_after)}%")
        if event.general_wer_before is not None:
            before, after = percent(event.general_wer_before), percent(event.general_wer_after)
            print(f"general speech WER before {before}%  after {after}%")
        print(f"adapter: {event.adapter}")
        if event.merged:
            print(f"merged model: {event.merged}")
        if event.registered_as:
            print(f"registered: voxtune transcribe --model {event.registered_as}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar: tqdm | None = None
