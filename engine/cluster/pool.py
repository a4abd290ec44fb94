"""The Ray side of the engine process: connect, start one actor per worker, watch them.

Each actor reserves ``threads`` CPUs (and one GPU with ``--device cuda``) and holds one
model. Ray restarts an actor whose process dies (``MAX_RESTARTS``); the task it was running
fails, and the runner requeues its job. A slot is used again only once its actor answers.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

import ray

from voxtune.engine.cluster.worker import TranscriptionWorker
from voxtune.engine.config import EngineConfig
from voxtune.engine.errors import VoxtuneError

MAX_RESTARTS = 3  # per actor: a worker process killed, a node lost and replaced
# Beside the running task: ``take``, ``cancel`` and ``where`` answer while it transcribes.
ACTOR_THREADS = 3


@dataclass
class Slot:
    """One actor and what it does now."""

    name: str
    actor: Any  # ray.actor.ActorHandle
    task: int | None = None  # the task it runs
    answer: Any = None  # ObjectRef of ``where`` after a failure: usable once it resolves

    @property
    def idle(self) -> bool:
        return self.task is None and self.answer is None


def connect(address: str) -> None:
    """Join the cluster as a driver (``ray://`` through Ray Client); VoxtuneError if not."""
    if ray.is_initialized():
        return
    try:
        ray.init(
            address=address,
            namespace="voxtune",
            log_to_driver=False,  # workers' output stays in Ray's logs, off the progress bar
            logging_level=logging.ERROR,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise VoxtuneError(f"--cluster {address}: cannot join the Ray cluster ({first})") from None


def start_workers(config: EngineConfig) -> list[Slot]:
    threads = max(1, config.threads or 1)
    gpu = config.device.startswith("cuda")
    resources = ray.cluster_resources()
    count = config.cluster_workers or int(
        resources.get("GPU", 0) if gpu else resources.get("CPU", 0) // threads
    )
    if count < 1:
        need = "a GPU" if gpu else f"{threads} CPUs"
        raise VoxtuneError(f"--cluster {config.cluster}: no node has {need} for a worker")
    actor_class = ray.remote(TranscriptionWorker)
    # Names unique per client, so two clients on one cluster do not share actors; tests find
    # a worker by name to kill it.
    prefix = f"voxtune-{socket.gethostname()}-{os.getpid()}"
    slots = []
    for index in range(count):
        name = f"{prefix}-{index}"
        actor = actor_class.options(
            name=name,
            num_cpus=threads,
            num_gpus=1 if gpu else 0,
            max_restarts=MAX_RESTARTS,
            max_task_retries=0,  # the runner retries through the job store (checkpoints)
            max_concurrency=ACTOR_THREADS,
            scheduling_strategy="SPREAD",
        ).remote(config.device, config.dtype, threads, config.batch_size)
        slots.append(Slot(name=name, actor=actor))
    return slots


def disconnect() -> None:
    if ray.is_initialized():
        ray.shutdown()  # the actors are the driver's: Ray stops them with it
