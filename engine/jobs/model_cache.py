"""The one model (and its aligner) a job runner holds; loading another replaces it."""

from __future__ import annotations

from collections.abc import Callable

from voxtune.engine import protocol as p
from voxtune.engine.config import EngineConfig
from voxtune.engine.models.aligners import load_aligner
from voxtune.engine.transcribe import Qwen3Transcriber, Transcriber, make_transcriber


class ModelCache:
    """Loads on demand and says so with a ModelLoaded event."""

    def __init__(self, config: EngineConfig, emit: Callable[[p.Event], None]) -> None:
        self.config = config
        self.emit = emit
        self._key: tuple[str, str | None] | None = None
        self._transcriber: Transcriber | Qwen3Transcriber | None = None

    def get(
        self, name: str, aligner: str | None = None, reply_to: int = 0
    ) -> Transcriber | Qwen3Transcriber:
        """The transcriber for model ``name`` with ``aligner`` (see ``JobSpec.aligner``)."""
        if self._transcriber is None or (name, aligner) != self._key:
            from voxtune.engine.models import load_model

            self._transcriber = None  # let the old weights go before the new ones load
            loaded = load_model(name, device=self.config.device, dtype=self.config.dtype)
            timer = load_aligner(loaded, aligner, self.config.device)
            self._transcriber = make_transcriber(loaded, timer, batch_size=self.config.batch_size)
            self._key = (name, aligner)
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
