"""Batch throughput on a Ray cluster: files per minute with 1, 2 and 4 workers, and scaling.

A local Ray head (no CPUs) and N worker nodes of one CPU each (``ray.cluster_utils``, real
raylets on this machine), one Voxtune worker (actor, one thread) per node. The whole path a
user's ``voxtune batch --cluster`` takes: the engine process, the SQLite job store, bytes
sent with each task, the outputs written here. The workers load the model before the clock
starts (LoadModel answers once every worker has it); cluster and worker start-up are
reported apart. The files are short IVR prompts, decoded in length buckets of --batch-size.

On N workers the ideal is N times the files per minute of one; on a machine with fewer free
cores than workers it cannot be reached (the workers share the cores): say so with the
figures.

    .venv/bin/python tests/bench/bench_cluster.py [--count 24] [--workers 1,2,4]
                                                  [--batch-size 4]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("VOXTUNE_TEST_DATA", REPO.parent / "shared" / "data"))


def prompts(count: int) -> list[Path]:
    import csv

    with open(DATA / "ivr.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [DATA / r["path"] for r in random.Random(0).sample(rows, count)]


def run(files: list[Path], workers: int, batch_size: int, folder: Path) -> dict[str, float]:
    from ray.cluster_utils import Cluster

    from voxtune.engine import protocol as p
    from voxtune.engine.client import EngineClient
    from voxtune.engine.jobs import JobSpec
    from voxtune.engine.process import EngineConfig
    from voxtune.engine.types import TranscriptionOptions

    began = time.perf_counter()
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
    )
    try:
        for _ in range(workers):
            cluster.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
        cluster_s = time.perf_counter() - began
        config = EngineConfig(
            db_path=str(folder / "jobs.sqlite3"),
            threads=1,
            batch_size=batch_size,
            cluster=cluster.address,
        )
        options = TranscriptionOptions(language="en")
        specs = [JobSpec.for_file(f, folder / "out", ("txt",), options=options) for f in files]
        with EngineClient(config) as client:
            began = time.perf_counter()
            loaded = client.request(p.LoadModel(), timeout=600)
            assert isinstance(loaded, p.ModelLoaded), loaded
            workers_s = time.perf_counter() - began
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
    finally:
        cluster.shutdown()
    return {"cluster_s": cluster_s, "workers_s": workers_s, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()

    files = prompts(args.count)
    print(f"{len(files)} IVR prompts, batch size {args.batch_size}, {os.cpu_count()} CPUs here")
    rates: dict[int, float] = {}
    for workers in (int(w) for w in args.workers.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            figures = run(files, workers, args.batch_size, Path(folder))
        rates[workers] = len(files) / figures["wall_s"] * 60
        print(
            f"{workers} workers: {rates[workers]:6.1f} files/min ({figures['wall_s']:.1f} s; "
            f"cluster start {figures['cluster_s']:.0f} s, model on every worker "
            f"{figures['workers_s']:.0f} s, not counted)"
        )
    first = min(rates)
    for workers, rate in rates.items():
        if workers != first:
            ratio = rate / rates[first]
            print(
                f"scaling {first} -> {workers} workers: {ratio:.2f}x (ideal {workers / first:.0f}x)"
            )


if __name__ == "__main__":
    main()
