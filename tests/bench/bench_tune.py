"""LoRA training throughput and peak memory: Voxtune's loop against a plain transformers + peft one.

Same model, same LoRA (r 32 / alpha 64 / dropout 0.05 on the decoder's attention and MLP),
same espeak-ng jargon sentences, same batch size and step count, float32 (GPUs too). The plain
loop is what a transformers + peft tutorial does: the inputs of every batch prepared once, then
every step runs ``model(**inputs, labels=...)`` through the frozen encoder. Voxtune's loop
encodes each utterance once (the encoder is frozen) and reuses it, so its one-time encoding
cost is reported separately (``prepare s``) and included in its total. Each loop runs in its
own child process so peak memory (RSS on the CPU, ``max_memory_allocated`` on a GPU) is its own.

``--family whisper`` (default): the embedded tiny.en; the plain loop feeds log-mel features.
``--family qwen3``: a Qwen3-ASR with random weights, built here (no weights can be fetched):
``--shape tiny`` is the test suite's 64-wide model, ``--shape 0.6b`` has Qwen3-ASR-0.6B's real
dimensions (0.78 B parameters, the 151,936-token vocabulary included). The plain loop builds
each batch with the processor (``processor(text=conversation, audio=..., output_labels=True)``,
prompt tokens masked so that both loops learn the same answer tokens); Voxtune's loop also
batches similar lengths together, which a plain loop does not.

    .venv/bin/python tests/bench/bench_tune.py [--family qwen3 --shape tiny|0.6b]
        [--sentences 64] [--steps 8] [--batch 16] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
LOOPS = {"voxtune": "Voxtune TrainingLoop (encoder outputs cached)", "plain": "transformers + peft"}
WHISPER_BASE = "whisper-tiny.en"
# The Linear layers both loops wrap in LoRA (Voxtune's "attention+mlp" preset on the decoder).
WHISPER_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]
QWEN3_TARGETS = r".*language_model\..*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
RANK, ALPHA, DROPOUT, LEARNING_RATE = 32, 64, 0.05, 1e-3


def peak_memory(device: str) -> int:
    import torch

    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def build_data(directory: Path, sentences: int) -> Path:
    sys.path.insert(0, str(TESTS))
    from tune_factory import jargon_sentences, speak, write_folder_dataset

    spoken = speak(jargon_sentences(sentences, seed=11), directory / "wav", seed=11)
    return write_folder_dataset(spoken, directory / "set")


def build_qwen3(directory: Path, shape: str) -> Path:
    sys.path.insert(0, str(TESTS))
    from transformers.utils import logging as hf_logging
    from tune_factory import build_qwen3_asr_0_6b_shaped, build_trainable_qwen3

    hf_logging.disable_progress_bar()  # the report is the output; no shard-writing bars
    if shape == "0.6b":
        return build_qwen3_asr_0_6b_shaped(directory / "qwen3-asr-0.6b-shaped")
    return build_trainable_qwen3(directory / "qwen3-asr-tiny")


def read_folder(data: Path) -> tuple[list[Path], list[str]]:
    audios = sorted(data.glob("*.wav"))
    return audios, [a.with_suffix(".txt").read_text(encoding="utf-8").strip() for a in audios]


def batch_indices(step: int, batch: int, count: int) -> list[int]:
    return [(step * batch + i) % count for i in range(batch)]


def run_voxtune(base: str, data: Path, out: Path, steps: int, batch: int, device: str) -> dict:
    from voxtune.engine.tune import TuneConfig, run_tune

    config = TuneConfig(
        data=data, out=out, base=base, max_steps=steps, batch_size=batch,
        validation_fraction=0, device=device, warmup_fraction=0.0,
        lora_rank=RANK, lora_alpha=ALPHA, lora_dropout=DROPOUT, learning_rate=LEARNING_RATE,
        precision="float32",  # as the plain loop, on a GPU too: compare loops, not arithmetic
    )  # fmt: skip
    started = time.perf_counter()
    first_step = last_step = None
    for event in run_tune(config):
        if event.kind == "tune_started":
            first_step = time.perf_counter()
        elif event.kind == "tune_step":
            last_step = time.perf_counter()
    # Saving the adapter afterwards is left out: the plain loop saves nothing.
    return {"prepare_s": first_step - started, "train_s": last_step - first_step}


def train_plain(model, batches: list[dict], device: str) -> float:  # type: ignore[no-untyped-def]
    """The tutorial's loop: forward with labels, backward, clip, AdamW. Returns seconds."""
    import torch

    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE
    )
    model.train()
    started = time.perf_counter()
    for inputs in batches:
        loss = model(**{k: v.to(device) for k, v in inputs.items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    return time.perf_counter() - started


def run_plain_whisper(data: Path, steps: int, batch: int, device: str) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    from voxtune.engine.audio import decode_audio
    from voxtune.engine.models import load_model

    # The embedded model ships in CTranslate2 layout: Voxtune's importer is the only way in.
    loaded = load_model(WHISPER_BASE, device=device)
    processor, model = loaded.processor, loaded.model
    started = time.perf_counter()
    audios, texts = read_folder(data)
    features = processor.feature_extractor(
        [decode_audio(a) for a in audios], sampling_rate=16000, return_tensors="pt"
    ).input_features
    labels = [processor.tokenizer(" " + t).input_ids for t in texts]
    torch.manual_seed(0)
    model.config.use_cache = False
    lora = LoraConfig(
        r=RANK, lora_alpha=ALPHA, lora_dropout=DROPOUT, target_modules=WHISPER_TARGETS
    )
    model = get_peft_model(model, lora)
    for name, parameter in model.named_parameters():  # LoRA on the decoder only, like ours
        if "encoder" in name:
            parameter.requires_grad = False
    batches = []
    for step in range(steps):
        index = batch_indices(step, batch, len(texts))
        length = max(len(labels[i]) for i in index)
        padded = torch.full((batch, length), -100, dtype=torch.long)
        for row, i in enumerate(index):
            padded[row, : len(labels[i])] = torch.tensor(labels[i])
        # transformers prepends the decoder start token itself; labels start after it.
        batches.append({"input_features": features[index], "labels": padded[:, 1:]})
    prepared = time.perf_counter()
    return {"prepare_s": prepared - started, "train_s": train_plain(model, batches, device)}


def run_plain_qwen3(base: str, data: Path, steps: int, batch: int, device: str) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoProcessor, Qwen3ASRForConditionalGeneration

    from voxtune.engine.audio import decode_audio

    started = time.perf_counter()
    processor = AutoProcessor.from_pretrained(base)
    model = Qwen3ASRForConditionalGeneration.from_pretrained(base, dtype=torch.float32)
    model = model.to(device)
    audios, texts = read_folder(data)
    clips = [decode_audio(a) for a in audios]
    # What the model should answer after the transcription request; only that is learnt.
    answers = [f"language English<asr_text>{t}<|im_end|>" for t in texts]
    prompts = processor.apply_transcription_request(audio=clips, tokenize=False)
    torch.manual_seed(0)
    model.config.use_cache = False
    lora = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=DROPOUT, target_modules=QWEN3_TARGETS)
    model = get_peft_model(model, lora)
    batches = []
    for step in range(steps):
        index = batch_indices(step, batch, len(texts))
        inputs = processor(
            text=[prompts[i] + answers[i] for i in index],
            audio=[clips[i] for i in index],
            output_labels=True,
        )
        # The processor pads on the left, so each answer is the end of its row.
        for row, i in enumerate(index):
            answer = len(processor.tokenizer(answers[i], add_special_tokens=False).input_ids)
            inputs["labels"][row, :-answer] = -100
        batches.append(dict(inputs))
    prepared = time.perf_counter()
    return {"prepare_s": prepared - started, "train_s": train_plain(model, batches, device)}


def child(args: argparse.Namespace) -> None:
    import torch

    base = str(args.model) if args.model else WHISPER_BASE
    with tempfile.TemporaryDirectory() as out:
        if args.child == "voxtune":
            result = run_voxtune(base, args.data, Path(out), args.steps, args.batch, args.device)
        elif args.family == "qwen3":
            result = run_plain_qwen3(base, args.data, args.steps, args.batch, args.device)
        else:
            result = run_plain_whisper(args.data, args.steps, args.batch, args.device)
    result["samples_per_s"] = args.steps * args.batch / result["train_s"]
    result["peak_bytes"] = peak_memory(args.device)
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


def run_children(args: argparse.Namespace, data: Path, model: Path | None) -> dict[str, dict]:
    results = {}
    for loop in LOOPS:
        command = [
            sys.executable, __file__, "--child", loop, "--family", args.family,
            "--data", str(data), "--steps", str(args.steps), "--batch", str(args.batch),
            "--device", args.device,
            *(["--model", str(model)] if model else []),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"the {loop} loop failed:\n{done.stderr[-4000:]}")
        results[loop] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def report(args: argparse.Namespace, results: dict[str, dict], loads: tuple[str, str]) -> None:
    model = WHISPER_BASE if args.family == "whisper" else f"random Qwen3-ASR, {args.shape} shape"
    threads = results["voxtune"]["threads"]
    print(f"{model}: {args.steps} steps of {args.batch} on {args.device} ({threads} threads),")
    print(f"{args.sentences} sentences; load average before: {loads[0]}, after: {loads[1]}")
    print(f"{'loop':<46}{'prepare s':>10}{'train s':>9}{'samples/s':>11}{'peak MiB':>10}")
    for loop, result in results.items():
        print(
            f"{LOOPS[loop]:<46}{result['prepare_s']:>10.1f}{result['train_s']:>9.1f}"
            f"{result['samples_per_s']:>11.3g}{result['peak_bytes'] / 2**20:>10.0f}"
        )
    ours, plain = results["voxtune"], results["plain"]
    print(
        f"throughput ratio (voxtune / plain): {ours['samples_per_s'] / plain['samples_per_s']:.2f}"
    )
    total_ours = ours["prepare_s"] + ours["train_s"]
    total_plain = plain["prepare_s"] + plain["train_s"]
    print(f"wall ratio including preparation (plain / voxtune): {total_plain / total_ours:.2f}")
    print(f"peak memory ratio (voxtune / plain): {ours['peak_bytes'] / plain['peak_bytes']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=("whisper", "qwen3"), default="whisper")
    parser.add_argument("--shape", choices=("tiny", "0.6b"), default="tiny", help="qwen3 only")
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", choices=LOOPS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as directory:
        os.environ.setdefault("VOXTUNE_HOME", str(Path(directory) / "home"))
        data = build_data(Path(directory), args.sentences)
        model = build_qwen3(Path(directory), args.shape) if args.family == "qwen3" else None
        before = load_average()
        results = run_children(args, data, model)
        loads = (before, load_average())
    report(args, results, loads)


if __name__ == "__main__":
    main()
