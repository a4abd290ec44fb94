"""The wizard's Quick preset on unseen jargon and on general English: WER before and after.

The tune is the one the Tune tab starts with Quick (``ui.tune_plan.tune_config``: LoRA r32 on
the decoder, 2 epochs, batch 16 on a CPU, 10 % of the rows held out for choosing the best
weights) on ``--train`` espeak-ng jargon sentences (``tune_factory``). It is then scored,
greedy, on ``--held-out`` sentences of the same fields that it never saw (neither trained on
nor used to pick weights), and on real English speech: the FLEURS English utterances of
``shared/data/dev.tsv`` and ``--ivr`` prompts of ``ivr.tsv``.

    .venv/bin/python tests/bench/bench_quick_preset.py [--train 240] [--held-out 60] [--ivr 25]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VOXTUNE_TEST_DATA", TESTS.parents[1] / "shared" / "data"))


def manifest(rows: list[tuple[Path, str]], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(("audio", "text"))
        writer.writerows((str(audio), text) for audio, text in rows)
    return path


def english(ivr: int) -> list[tuple[Path, str]]:
    def read(name: str) -> list[tuple[Path, str, str]]:
        with open(DATA / name, newline="", encoding="utf-8") as handle:
            return [(DATA / r["path"], r["language"], r["reference"])
                    for r in csv.DictReader(handle, delimiter="\t")]  # fmt: skip

    fleurs = [(a, t) for a, lang, t in read("dev.tsv") if lang == "en"]
    prompts = [(a, t) for a, _, t in read("ivr.tsv") if len(t.split()) >= 4]
    return fleurs + random.Random(0).sample(prompts, ivr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=int, default=240)
    parser.add_argument("--held-out", type=int, default=60)
    parser.add_argument("--ivr", type=int, default=25)
    args = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    sys.path.insert(0, str(TESTS.parent.parent))
    from tune_factory import build_jargon_split, write_folder_dataset

    from voxtune.engine.models import load_model
    from voxtune.engine.torch_threads import set_torch_threads
    from voxtune.engine.tune import run_tune
    from voxtune.engine.tune.events import TuneFinished
    from voxtune.engine.tune.family import tune_family
    from voxtune.engine.tune.general import general_examples, general_wer
    from voxtune.engine.tune.outputs import load_with_adapter
    from voxtune.ui.tune_plan import TunePlan, tune_config

    set_torch_threads(None)
    work = Path(tempfile.mkdtemp(prefix="voxtune-quick-"))
    train, held = build_jargon_split(work / "speech", args.train, args.held_out, seed=0)
    data = write_folder_dataset(train, work / "train")
    held_set = manifest([(s.audio, s.text) for s in held], work / "held-out.tsv")
    english_set = manifest(english(args.ivr), work / "english.tsv")
    config = replace(tune_config(TunePlan(data=data, out=work / "tune", base="whisper-tiny.en")),
                     general=None, checkpoint_every=0)  # fmt: skip

    base = load_model(config.base, shared=False)
    family = tune_family(base)
    sets = {
        name: general_examples(replace(config, general=path), family, base.model)
        for name, path in (("jargon", held_set), ("english", english_set))
    }
    before = {name: general_wer(family, base.model, ex, "cpu") for name, ex in sets.items()}

    load = os.getloadavg()[0]
    started = time.perf_counter()
    finished = next(e for e in run_tune(config) if isinstance(e, TuneFinished))
    seconds = time.perf_counter() - started
    tuned = load_with_adapter(Path(finished.adapter), config.base)
    after = {name: general_wer(family, tuned.model, ex, "cpu") for name, ex in sets.items()}

    result = {
        "preset": "Quick", "train_sentences": args.train, "steps": finished.steps,
        "best_step": finished.best_step, "tune_seconds": round(seconds, 1),
        "load_average_at_start": round(load, 2), "cores": os.cpu_count(),
        "held_out_jargon": {"utterances": len(sets["jargon"]), "before": before["jargon"],
                            "after": after["jargon"]},
        "general_english": {"utterances": len(sets["english"]), "before": before["english"],
                            "after": after["english"]},
        "jargon_relative_reduction": 1 - after["jargon"] / before["jargon"],
    }  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
