"""Loaded models kept for reuse, bounded by memory: the least recently used goes first.

The CLI and the engine ask for the same model again and again, so loading once pays; but a
session that tries model after model must not keep every one. When the weights held pass
the budget, the least recently used are dropped. Dropping only forgets the cache's
reference: a job still decoding with a model keeps it alive until it lets go.

The budget: ``VOXTUNE_MODEL_CACHE_BYTES`` when set, else half the machine's memory; an
engine process sets its own from ``EngineConfig.model_cache_bytes``.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxtune.engine.models.info import LoadedModel

BUDGET_ENV = "VOXTUNE_MODEL_CACHE_BYTES"
RAM_FRACTION = 0.5


class ModelMemoryCache:
    def __init__(self, budget_bytes: int | None = None) -> None:
        self._budget = budget_bytes
        self._entries: OrderedDict[Hashable, tuple[LoadedModel, int]] = OrderedDict()
        self._lock = threading.Lock()  # the job thread and the live thread both load

    @property
    def budget_bytes(self) -> int:
        if self._budget is not None:
            return self._budget
        if env := os.environ.get(BUDGET_ENV):
            return int(env)
        return int(total_memory_bytes() * RAM_FRACTION)

    def set_budget(self, budget_bytes: int | None) -> None:
        """None: the environment's or the default budget again."""
        with self._lock:
            self._budget = budget_bytes
            self._evict()

    def get(self, key: Hashable) -> LoadedModel | None:
        """The model under ``key``, now the most recently used; None when not held."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, loaded: LoadedModel, size_bytes: int | None = None) -> None:
        """Hold ``loaded``; older models go while the total passes the budget (the newest
        stays even when it alone is over: it was asked for)."""
        size = weight_bytes(loaded) if size_bytes is None else size_bytes
        with self._lock:
            self._entries[key] = (loaded, size)
            self._entries.move_to_end(key)
            self._evict()

    def held(self) -> list[Hashable]:
        """Least recently used first."""
        with self._lock:
            return list(self._entries)

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _evict(self) -> None:
        budget = self.budget_bytes
        while len(self._entries) > 1 and sum(s for _, s in self._entries.values()) > budget:
            self._entries.popitem(last=False)


def weight_bytes(loaded: LoadedModel) -> int:
    """Bytes of the model's parameters and buffers (an aligner is its own entry). int8
    quantised layers keep packed weights outside ``parameters()``: counted low, never high."""
    model = loaded.model
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def total_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        return 8 * 1024**3
