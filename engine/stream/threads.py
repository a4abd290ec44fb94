"""How many threads torch uses for a block of work.

Small tensors (a token at a time, a 32 ms VAD frame) gain nothing from a second intra-op
thread and, when the CPU is busy with anything else, lose several times over waiting for it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads (None: as set), then restore them."""
    import torch

    before = torch.get_num_threads()
    if count and count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class FastestThreadCount:
    """For a task repeated every step, run it with whichever thread count has lately been
    fastest, trying the others now and then.

    Two threads halve the encoder's time on an idle machine and double it when another
    process holds a core (measured: 0.22 vs 0.45 s idle, 1.0-1.2 vs 0.5 s busy); which one
    the machine is, only the clock can tell, and it changes while a session runs.
    """

    def __init__(self, candidates: tuple[int, ...] | None = None, explore_every: int = 20) -> None:
        import torch

        most = torch.get_num_threads()
        self.candidates = candidates or tuple(sorted({1, most}))
        self.explore_every = explore_every
        self.seconds: dict[int, float] = {}  # smoothed time per count
        self.calls = 0

    def choose(self) -> int:
        untried = [c for c in self.candidates if c not in self.seconds]
        if untried:
            return untried[0]
        ranked = sorted(self.candidates, key=self.seconds.__getitem__)
        if len(ranked) > 1 and self.calls % self.explore_every == 0:
            return ranked[1]
        return ranked[0]

    def run(self, task: Callable[[], T]) -> T:
        count = self.choose()
        self.calls += 1
        with torch_threads(count):
            began = time.perf_counter()
            result = task()
            took = time.perf_counter() - began
        previous = self.seconds.get(count)
        self.seconds[count] = took if previous is None else 0.7 * previous + 0.3 * took
        return result
