"""The one model a job runner holds; loading another replaces it."""

from __future__ import annotations

from collections.abc import Callable

from voxtune.engine import protocol as p
from voxtune.engine.process.config import EngineConfig
from voxtune.engine.transcribe import Qwen3Transcriber, Transcriber, make_transcriber


class ModelCache:
    """Loads on demand and says so with a ModelLoaded event."""

    def __init__(self, config: EngineConfig, emit: Callable[[p.Event], None]) -> None:
        self.config = config
        self.emit = emit
        self._name: str | None = None
        self._transcriber: Transcriber | Qwen3Transcriber | None = None

    def get(self, name: str, reply_to: int = 0) -> Transcriber | Qwen3Transcriber:
        if self._transcriber is None or name != self._name:
            from voxtune.engine.models import load_model

            self._transcriber = None  # let the old weights go before the new ones load
            loaded = load_model(name, device=self.config.device, dtype=self.config.dtype)
            self._transcriber = make_transcriber(loaded, batch_size=self.config.batch_size)
            self._name = name
            info = loaded.info
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
