"""LoRA training throughput and peak memory: Voxtune's loop against a plain transformers + peft one.

Same model (embedded tiny.en), same LoRA (r 32 / alpha 64 on the decoder's attention and
MLP), same espeak-ng jargon sentences, same batch size and step count. The plain loop is what
a transformers + peft tutorial does: log-mel features prepared once, then every step runs
``model(input_features=..., labels=...)`` through the frozen encoder. Voxtune's loop encodes
each utterance once (the encoder is frozen) and reuses it, so its one-time encoding cost is
reported separately and included in its total. Each loop runs in its own child process so
peak memory (RSS on the CPU, ``max_memory_allocated`` on a GPU) is its own.

    .venv/bin/python tests/bench/bench_tune.py [--sentences 64] [--steps 8] [--device cuda]
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


def peak_memory(device: str) -> int:
    import torch

    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def build_data(directory: Path, sentences: int) -> Path:
    sys.path.insert(0, str(TESTS))
    from tune_factory import jargon_sentences, speak, write_folder_dataset

    spoken = speak(jargon_sentences(sentences, seed=11), directory / "wav", seed=11)
    return write_folder_dataset(spoken, directory / "set")


def run_voxtune(data: Path, out: Path, steps: int, batch: int, device: str) -> dict:
    from voxtune.engine.tune import TuneConfig, run_tune

    config = TuneConfig(
        data=data, out=out, max_steps=steps, batch_size=batch, validation_fraction=0,
        device=device, warmup_fraction=0.0,
    )  # fmt: skip
    started = time.perf_counter()
    first_step = None
    for event in run_tune(config):
        if event.kind == "tune_started":
            first_step = time.perf_counter()
    finished = time.perf_counter()
    return {"prepare_s": first_step - started, "train_s": finished - first_step}


def run_plain(data: Path, steps: int, batch: int, device: str) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    from voxtune.engine.audio import decode_audio
    from voxtune.engine.models import load_model

    loaded = load_model("whisper-tiny.en", device=device)
    processor, model = loaded.processor, loaded.model
    started = time.perf_counter()
    audios = sorted(data.glob("*.wav"))
    texts = [a.with_suffix(".txt").read_text(encoding="utf-8").strip() for a in audios]
    features = processor.feature_extractor(
        [decode_audio(a) for a in audios], sampling_rate=16000, return_tensors="pt"
    ).input_features
    labels = [processor.tokenizer(" " + t).input_ids for t in texts]
    torch.manual_seed(0)
    model.config.use_cache = False
    targets = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]
    lora = LoraConfig(r=32, lora_alpha=64, lora_dropout=0.05, target_modules=targets)
    model = get_peft_model(model, lora)
    for name, parameter in model.named_parameters():  # LoRA on the decoder only, like ours
        if "encoder" in name:
            parameter.requires_grad = False
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    prepared = time.perf_counter()
    for step in range(steps):
        index = [(step * batch + i) % len(texts) for i in range(batch)]
        length = max(len(labels[i]) for i in index)
        padded = torch.full((batch, length), -100, dtype=torch.long)
        for row, i in enumerate(index):
            padded[row, : len(labels[i])] = torch.tensor(labels[i])
        # transformers prepends the decoder start token itself; labels start after it.
        loss = model(input_features=features[index].to(device), labels=padded[:, 1:].to(device))
        loss.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    return {"prepare_s": prepared - started, "train_s": time.perf_counter() - prepared}


def child(loop: str, data: Path, steps: int, batch: int, device: str) -> None:
    with tempfile.TemporaryDirectory() as out:
        if loop == "voxtune":
            result = run_voxtune(data, Path(out), steps, batch, device)
        else:
            result = run_plain(data, steps, batch, device)
    result["samples_per_s"] = steps * batch / result["train_s"]
    result["peak_bytes"] = peak_memory(device)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", choices=LOOPS)
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.steps, args.batch, args.device)
        return
    with tempfile.TemporaryDirectory() as directory:
        os.environ.setdefault("VOXTUNE_HOME", str(Path(directory) / "home"))
        data = build_data(Path(directory), args.sentences)
        results = {}
        for loop in LOOPS:
            command = [
                sys.executable, __file__, "--child", loop, "--data", str(data),
                "--steps", str(args.steps), "--batch", str(args.batch), "--device", args.device,
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results[loop] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{args.steps} steps of {args.batch} on {args.device}, {args.sentences} sentences")
    print(f"{'loop':<46}{'prepare s':>10}{'train s':>9}{'samples/s':>11}{'peak MiB':>10}")
    for loop, result in results.items():
        print(
            f"{LOOPS[loop]:<46}{result['prepare_s']:>10.1f}{result['train_s']:>9.1f}"
            f"{result['samples_per_s']:>11.2f}{result['peak_bytes'] / 2**20:>10.0f}"
        )
    ours, plain = results["voxtune"], results["plain"]
    print(
        f"throughput ratio (voxtune / plain): {ours['samples_per_s'] / plain['samples_per_s']:.2f}"
    )
    total_ours = ours["prepare_s"] + ours["train_s"]
    total_plain = plain["prepare_s"] + plain["train_s"]
    print(f"wall ratio including preparation (plain / voxtune): {total_plain / total_ours:.2f}")
    print(f"peak memory ratio (voxtune / plain): {ours['peak_bytes'] / plain['peak_bytes']:.2f}")


if __name__ == "__main__":
    main()
