"""A real LoRA tune in CI time: tiny.en learns jargon spoken by espeak-ng, keeps general English.

Training and held-out sentences are synthesised here (never committed) and share the terms but
no sentence; general English is the FLEURS part of ../shared/data, which is never trained on.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tune_factory import build_jargon_split, write_folder_dataset

VOXTUNE = Path(sys.executable).with_name("voxtune")
TRAIN_SENTENCES, HELD_OUT_SENTENCES = 48, 16


def voxtune(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(VOXTUNE), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2")),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def general_wer(manifest: Path, model: str) -> float:
    output = voxtune("eval", str(manifest), "--model", model, "--beam-size", "1").stdout
    match = re.search(r"^all\s+\d+\s+([\d.]+)$", output, re.MULTILINE)
    assert match, output
    return float(match.group(1))


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, english_dev) -> dict:
    root = tmp_path_factory.mktemp("jargon")
    train, held_out = build_jargon_split(root / "wav", TRAIN_SENTENCES, HELD_OUT_SENTENCES)
    write_folder_dataset(train, root / "train")
    validation = root / "held-out.jsonl"
    validation.write_text(
        "".join(json.dumps({"audio": str(s.audio), "text": s.text}) + "\n" for s in held_out),
        encoding="utf-8",
    )
    general = root / "general.tsv"
    general.write_text(
        "path\treference\n" + "".join(f"{u.path}\t{u.reference}\n" for u in english_dev),
        encoding="utf-8",
    )
    done = voxtune(
        "finetune", "--data", str(root / "train"), "--validation", str(validation),
        "--out", str(root / "out"), "--epochs", "2", "--register", "tiny-jargon",
    )  # fmt: skip
    summary = json.loads((root / "out" / "tune-summary.json").read_text(encoding="utf-8"))
    return {"root": root, "stdout": done.stdout, "summary": summary, "general": general}


def test_held_out_jargon_wer_drops_by_a_third(tuned: dict) -> None:
    summary = tuned["summary"]
    before, after = summary["wer_before"], summary["wer_after"]
    print(f"held-out jargon WER {before:.1%} -> {after:.1%}")
    assert before > 0.3, f"the base model should be bad at this jargon (WER {before:.1%})"
    assert after <= 0.7 * before, f"WER {before:.1%} -> {after:.1%}"
    assert summary["steps"] == 6 and summary["registered_as"] == "tiny-jargon"
    assert "worst utterances (before):" in tuned["stdout"]
    assert re.search(r"\[-\w+", tuned["stdout"]), "the worst utterances come with word diffs"


def test_general_english_wer_rises_by_at_most_a_point(tuned: dict) -> None:
    before = general_wer(tuned["general"], "whisper-tiny.en")
    after = general_wer(tuned["general"], "tiny-jargon")
    print(f"general English WER {before:.2f}% -> {after:.2f}%")
    assert after <= before + 1.0, f"general English WER {before:.2f}% -> {after:.2f}%"
