"""Batch throughput: short files in length-bucketed batches vs one by one, in one run.

Both go the whole way a user's ``voxtune batch`` goes: the engine process, the SQLite job
queue, decoding, and one output file per job. Only the runner's batch size differs. The
model is loaded before the clock starts. The utterances are split into rounds and the two
ways alternate (A B, B A, …), so a machine whose load drifts during the run (shared cores)
favours neither. Prints audio hours transcribed per hour of wall time for each, the ratio,
and the WER of each (lower case, punctuation stripped, whitespace collapsed on both sides),
so a speed-up that costs accuracy shows.

    .venv/bin/python tests/bench/bench_batch.py [--count 120] [--batch-size 8] [--beam-size 5]
                                                [--rounds 4]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("VOXTUNE_TEST_DATA", REPO.parent / "shared" / "data"))


def utterances(count: int) -> list[tuple[Path, str, float]]:
    """``count`` IVR prompts of one window or less (a seeded sample), with their lengths."""
    from voxtune.engine.audio import probe

    with open(DATA / "ivr.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    short = []
    for row in rows:
        path = DATA / row["path"]
        duration = probe(path).duration
        if duration <= 30.0:
            short.append((path, row["reference"], duration))
    return random.Random(0).sample(short, count)


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def run(items, batch_size: int, beam_size: int, folder: Path) -> tuple[float, list[str]]:
    from voxtune.engine import protocol as p
    from voxtune.engine.client import EngineClient
    from voxtune.engine.jobs import JobSpec
    from voxtune.engine.process import EngineConfig
    from voxtune.engine.types import TranscriptionOptions

    options = TranscriptionOptions(language="en", beam_size=beam_size)
    config = EngineConfig(db_path=str(folder / "jobs.sqlite3"), batch_size=batch_size)
    specs = [
        JobSpec.for_file(path, folder / "out", ("txt",), options=options) for path, *_ in items
    ]
    with EngineClient(config) as client:
        loaded = client.request(p.LoadModel(), timeout=300)
        assert isinstance(loaded, p.ModelLoaded), loaded
        started = time.perf_counter()
        for spec in specs:
            client.send(p.SubmitJob(spec=spec))
        left = len(specs)
        while left:
            event = client.next_event(timeout=600)
            if event is None or isinstance(event, p.EngineDied | p.JobFailed):
                sys.exit(f"bench: {event}")
            left -= isinstance(event, p.JobDone)
        wall = time.perf_counter() - started
    texts = [(folder / "out" / f"{path.stem}.txt").read_text() for path, *_ in items]
    return wall, texts


def wer(references: list[str], texts: list[str]) -> float:
    import jiwer

    return jiwer.wer([normalise(r) for r in references], [normalise(t) for t in texts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    items = utterances(args.count)
    audio_s = sum(duration for *_, duration in items)
    print(f"{len(items)} IVR utterances, {audio_s / 60:.1f} min of audio, beam {args.beam_size}")
    ways = {"bucketed": args.batch_size, "one by one": 1}
    walls = dict.fromkeys(ways, 0.0)
    texts: dict[str, dict[Path, str]] = {label: {} for label in ways}
    for number in range(args.rounds):
        part = items[number :: args.rounds]
        order = list(ways) if number % 2 == 0 else list(reversed(ways))
        for label in order:
            with tempfile.TemporaryDirectory() as folder:
                wall, got = run(part, ways[label], args.beam_size, Path(folder))
            walls[label] += wall
            texts[label].update(zip((path for path, *_ in part), got, strict=True))
    references = [reference for _, reference, _ in items]
    for label, size in ways.items():
        error = wer(references, [texts[label][path] for path, *_ in items])
        print(
            f"{label:>10} (batch {size}): {walls[label]:7.1f} s wall, "
            f"{audio_s / walls[label]:6.2f} audio hours per hour, WER {error:.1%}"
        )
    ratio = walls["one by one"] / walls["bucketed"]
    print(f"bucketed batching gives {ratio:.2f}x the throughput of one by one")


if __name__ == "__main__":
    main()
