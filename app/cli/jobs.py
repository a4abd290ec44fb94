"""``voxtune jobs [list | retry ID | cancel ID | clear]``: the persistent job queue.

``list`` shows every job; ``retry`` queues a failed or cancelled job again and runs it now
(it resumes where it stopped); ``cancel`` stops a queued or running job (an engine running
it stops after its current window); ``clear`` forgets finished jobs (their files stay).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from voxtune.engine.errors import VoxtuneError

if TYPE_CHECKING:
    from voxtune.engine.jobs import JobStore

ACTIONS = ("list", "retry", "cancel", "clear")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "jobs",
        help="list, retry, cancel or clear batch jobs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", nargs="?", default="list", choices=ACTIONS)
    parser.add_argument("job_id", nargs="?", type=int, metavar="ID")
    parser.add_argument(
        "--cluster", metavar="ray://HOST:PORT|auto", help="retry: run it on a Ray cluster"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voxtune.app.paths import jobs_db
    from voxtune.engine.jobs import JobStore

    needs_id = args.action in ("retry", "cancel")
    if needs_id and args.job_id is None:
        raise VoxtuneError(f"jobs {args.action}: which job? give its ID (see `voxtune jobs`)")
    if not needs_id and args.job_id is not None:
        raise VoxtuneError(f"jobs {args.action}: takes no ID")
    with JobStore(jobs_db()) as store:
        if store.notice:
            print(f"voxtune: {store.notice}", file=sys.stderr)
        if args.action == "list":
            _list(store)
        elif args.action == "cancel":
            job = store.cancel(args.job_id)
            print(f"voxtune: job {job.id} cancelled ({job.spec.input_path})")
        elif args.action == "clear":
            print(f"voxtune: forgot {store.clear()} finished jobs")
        else:
            return _retry(store, args.job_id, args.cluster)
    return 0


def _list(store: JobStore) -> None:
    from voxtune.engine.jobs import JobState

    jobs = store.jobs()
    if not jobs:
        print("no jobs")
        return
    print(f"{'ID':>5}  {'STATE':<9}  {'DONE':>4}  FILE")
    for job in jobs:
        state, progress = job.state.value, job.progress
        if job.state is JobState.QUEUED and progress > 0:
            # Stopped part-way (its outputs are not written yet): it resumes from there.
            state, progress = "stopped", min(progress, 0.99)
        print(f"{job.id:>5}  {state:<9}  {progress:>4.0%}  {job.spec.input_path}")
        if job.error:
            print(f"{'':>5}  {job.error}")


def _retry(store: JobStore, job_id: int, cluster: str | None) -> int:
    from voxtune.app.cli.batch import Follower
    from voxtune.engine.client import EngineClient
    from voxtune.engine.process import EngineConfig

    if cluster:
        from voxtune.engine.cluster import check_address

        check_address(cluster)
    job = store.retry(job_id)
    print(f"voxtune: job {job.id} queued again ({job.spec.input_path})", file=sys.stderr)
    client = EngineClient(EngineConfig(db_path=str(store.path), cluster=cluster))
    client.start()
    try:
        return Follower(client, store).run([job.spec])
    finally:
        client.stop()
