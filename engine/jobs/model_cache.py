"""The one model (and its aligner) a job runner holds; loading another replaces it.

The weights themselves live in the engine's memory-bounded model cache
(``voxtune.engine.models.cache``); this holds the transcriber the running job decodes with,
which keeps its model alive even when the cache has let it go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from voxtune.engine import protocol as p
from voxtune.engine.config import EngineConfig
from voxtune.engine.models.ready import ModelRequest, build_model

if TYPE_CHECKING:
    from voxtune.engine.families.family import OfflineTranscriber


class ModelCache:
    """Loads on demand and says so with a ModelLoaded event."""

    def __init__(self, config: EngineConfig, emit: Callable[[p.Event], None]) -> None:
        from voxtune.engine.models.loader import model_cache

        self.config = config
        self.emit = emit
        self._key: tuple[str, str | None] | None = None
        self._transcriber: OfflineTranscriber | None = None
        if config.model_cache_bytes is not None:
            model_cache.set_budget(config.model_cache_bytes)

    def get(self, name: str, aligner: str | None = None, reply_to: int = 0) -> OfflineTranscriber:
        """The transcriber for model ``name`` with ``aligner`` (see ``JobSpec.aligner``)."""
        if self._transcriber is None or (name, aligner) != self._key:
            self._transcriber = None  # let the old weights go before the new ones load
            request = ModelRequest(
                name=name,
                backend=self.config.backend,
                dtype=self.config.dtype,
                device=self.config.device,
                aligner=aligner,
            )
            ready = build_model(request)
            self._transcriber = ready.offline_transcriber(batch_size=self.config.batch_size)
            self._key = (name, aligner)
            info = ready.info
            self.emit(
                p.ModelLoaded(
                    name=info.name,
                    family=info.family,
                    languages=tuple(info.languages),
                    size_bytes=info.size_bytes,
                    location=str(info.location),
                    source=info.source,
                    reply_to=reply_to,
                )
            )
        return self._transcriber
