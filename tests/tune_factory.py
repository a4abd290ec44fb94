"""A jargon data set spoken by espeak-ng, synthesised at test time (never committed).

Dictation sentences dense with rare terms from four fields (medicine, cloud software, law,
finance): the embedded tiny.en gets many of the terms wrong, so a short tune has room to help.
Training and held-out sentences share the vocabulary but never a sentence.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "medicine": (
        (
            "metoprolol",
            "amoxicillin",
            "tachycardia",
            "bradycardia",
            "pneumothorax",
            "thrombocytopenia",
            "levothyroxine",
            "atorvastatin",
            "echocardiogram",
            "cholecystectomy",
        ),
        (
            "the patient started {a} after the {b} was confirmed",
            "please document {a} and rule out {b} today",
            "we switched from {a} to {b} this morning",
            "the resident ordered {a} for suspected {b}",
        ),
    ),
    "cloud": (
        (
            "kubernetes",
            "terraform",
            "postgres",
            "kafka",
            "nginx",
            "grafana",
            "prometheus",
            "ansible",
            "redis",
            "elasticsearch",
        ),
        (
            "deploy {a} before you restart {b}",
            "the {a} cluster lost its connection to {b}",
            "we replaced {a} with {b} last sprint",
            "check the {a} logs and then the {b} dashboard",
        ),
    ),
    "law": (
        (
            "estoppel",
            "subpoena",
            "habeas corpus",
            "tort",
            "indemnity",
            "affidavit",
            "certiorari",
            "easement",
            "injunction",
            "voir dire",
        ),
        (
            "counsel raised {a} in response to the {b}",
            "the court granted {a} but denied the {b}",
            "file the {a} together with the {b} on Monday",
            "the judge asked about {a} during the {b}",
        ),
    ),
    "finance": (
        (
            "ebitda",
            "amortization",
            "arbitrage",
            "debenture",
            "collateral",
            "escrow",
            "annuity",
            "dividend",
            "liquidity",
            "depreciation",
        ),
        (
            "the analyst compared {a} with {b} for the quarter",
            "report {a} separately from {b} in the filing",
            "our {a} forecast ignores {b} entirely",
            "the board reviewed {a} and {b} on Friday",
        ),
    ),
}
VOICES = ("en-us", "en-gb", "en-us+m3", "en-us+f2", "en-gb+f3", "en-us+m5")


@dataclass(frozen=True)
class SpokenSentence:
    audio: Path
    text: str
    field: str


def jargon_sentences(
    count: int, seed: int, exclude: set[str] = frozenset()
) -> list[tuple[str, str]]:
    """``count`` distinct (field, sentence) pairs, fields in turn, none in ``exclude``."""
    rng = random.Random(seed)
    names = sorted(FIELDS)
    chosen: list[tuple[str, str]] = []
    seen = set(exclude)
    while len(chosen) < count:
        field = names[len(chosen) % len(names)]
        terms, templates = FIELDS[field]
        a, b = rng.sample(terms, 2)
        # Sentence case and a full stop, as people write: a tune should not teach a new style.
        words = rng.choice(templates).format(a=a, b=b)
        sentence = words[0].upper() + words[1:] + "."
        if sentence not in seen:
            seen.add(sentence)
            chosen.append((field, sentence))
    return chosen


def speak(sentences: list[tuple[str, str]], directory: Path, seed: int) -> list[SpokenSentence]:
    """Write one wav per sentence with espeak-ng, varying voice and speed; return them."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install -y espeak-ng)")
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    spoken = []
    for index, (field, text) in enumerate(sentences):
        path = directory / f"{field}-{seed}-{index:04d}.wav"
        voice, speed = rng.choice(VOICES), rng.randint(140, 175)
        subprocess.run(
            [espeak, "-v", voice, "-s", str(speed), "-w", str(path), text],
            check=True,
            capture_output=True,
        )
        spoken.append(SpokenSentence(path, text, field))
    return spoken


def build_jargon_split(
    directory: Path, train: int, held_out: int, seed: int = 0
) -> tuple[list[SpokenSentence], list[SpokenSentence]]:
    """Training and held-out spoken sentences that share no sentence."""
    train_sentences = jargon_sentences(train, seed)
    held_sentences = jargon_sentences(held_out, seed + 1, exclude={s for _, s in train_sentences})
    return (
        speak(train_sentences, directory / "train", seed),
        speak(held_sentences, directory / "held-out", seed + 1),
    )


def write_folder_dataset(spoken: list[SpokenSentence], directory: Path) -> Path:
    """The audio-folder layout: each wav beside a same-named .txt transcript."""
    directory.mkdir(parents=True, exist_ok=True)
    for item in spoken:
        target = directory / item.audio.name
        shutil.copyfile(item.audio, target)
        target.with_suffix(".txt").write_text(item.text + "\n", encoding="utf-8")
    return directory


def build_trainable_qwen3(directory: Path, seed: int = 0) -> Path:
    """The tiny random Qwen3-ASR of ``qwen3_factory``, with every token writable again.

    The factory zeroes the (tied) embedding rows of every token but whole words, so that a
    random model's greedy output is words. A tune must also learn to write ``language``,
    ``<asr_text>``, punctuation and ``<|im_end|>``, and LoRA cannot change the output rows
    nor the final norm: with rows of norm ~0 (zeroed) or ~0.16 (std 0.02 over 64 dims) no
    logit can rise far above the rest. Rows of std 0.25 (norm ~2) let it learn.
    """
    import torch
    from qwen3_factory import build_tiny_qwen3_asr
    from transformers import Qwen3ASRForConditionalGeneration

    build_tiny_qwen3_asr(directory, seed=seed)
    model = Qwen3ASRForConditionalGeneration.from_pretrained(directory)
    weight = model.get_output_embeddings().weight  # tied: the input embeddings too
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        weight.copy_(0.25 * torch.randn(weight.shape, generator=generator))
    model.save_pretrained(directory)
    return directory


# Qwen3-ASR-0.6B's dimensions (its config.json): a 896-wide, 18-layer audio encoder projected
# to 1024, and the Qwen3-0.6B text model (28 layers, GQA 16/8, 151,936-token tied vocabulary).
QWEN3_ASR_0_6B_AUDIO = {
    "num_mel_bins": 128,
    "encoder_layers": 18,
    "encoder_attention_heads": 14,
    "encoder_ffn_dim": 3584,
    "d_model": 896,
    "output_dim": 1024,
    "n_window": 50,
    "n_window_infer": 800,
    "downsample_hidden_size": 480,
}
QWEN3_ASR_0_6B_TEXT = {
    "model_type": "qwen3",
    "vocab_size": 151936,
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 65536,
    "rope_theta": 1000000.0,
    "tie_word_embeddings": True,
}


def build_qwen3_asr_0_6b_shaped(directory: Path, seed: int = 0) -> Path:
    """A random Qwen3-ASR with the real 0.6B dimensions, for throughput and memory only.

    The tokenizer is the factory's small one (its special tokens are what the processor and
    the tune need), but the embedding keeps the real 151,936 rows: the output projection over
    the whole vocabulary is a large part of a step's cost and memory, so it must be there.
    Saved in bfloat16, as the real checkpoint ships; loaders pick their own dtype.
    """
    import torch
    from qwen3_factory import build_tokenizer, save_qwen3
    from transformers import (
        Qwen3ASRConfig,
        Qwen3ASRForConditionalGeneration,
    )

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen3ASRConfig(
        audio_config=dict(QWEN3_ASR_0_6B_AUDIO),
        text_config=dict(QWEN3_ASR_0_6B_TEXT),
        audio_token_id=ids("<|audio_pad|>"),
        timestamp_token_id=ids("<timestamp>"),
        pad_token_id=ids("<|endoftext|>"),
        eos_token_id=[ids("<|endoftext|>"), ids("<|im_end|>")],
        architectures=["Qwen3ASRForConditionalGeneration"],
    )
    torch.manual_seed(seed)
    model = Qwen3ASRForConditionalGeneration(config).eval().to(torch.bfloat16)
    return save_qwen3(model, tokenizer, directory)


VOXTUNE = Path(sys.executable).with_name("voxtune")


def voxtune(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The installed ``voxtune`` command in a child (one thread: tests share the CPU)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [str(VOXTUNE), *args], capture_output=True, text=True, timeout=300, env=env
    )
    if check:
        assert done.returncode == 0, done.stderr[-2000:]
    return done


def kill_after_checkpoint(args: list[str], out: Path, step: int) -> int:
    """Run ``voxtune *args`` (a tune into ``out``), SIGKILL it once checkpoint ``step`` is
    written; the newest checkpoint's step when it died."""
    process = subprocess.Popen(
        [str(VOXTUNE), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    deadline = time.monotonic() + 120
    while not (out / "checkpoints" / f"step-{step:07d}").is_dir():
        assert process.poll() is None, "the run ended before a checkpoint was written"
        assert time.monotonic() < deadline, "no checkpoint within two minutes"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "tune-summary.json").exists(), "the run finished before it was killed"
    return max(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("step-*"))
