"""Speech to text with timed, scored words.

Heavy (torch, transformers): import from the engine process or the CLI, never from ``ui``.
Each family's transcriber lives with its family (``engine/families/``); this package holds
what they share (VAD, sample arithmetic, files) and asks the family table for the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtune.engine.transcribe.files import transcribe_file
from voxtune.engine.transcribe.vad import VadOptions, speech_regions

if TYPE_CHECKING:
    from voxtune.engine.families.family import OfflineTranscriber
    from voxtune.engine.models import LoadedModel

# Family classes re-exported for callers that name one; loaded on first use, since the
# family modules import this package's shared parts.
_FAMILY_EXPORTS = {
    "Transcriber": "voxtune.engine.families.whisper.transcriber",
    "WindowDecoder": "voxtune.engine.families.whisper.window",
    "WindowRequest": "voxtune.engine.families.whisper.window",
    "WindowResult": "voxtune.engine.families.whisper.window",
    "Qwen3Transcriber": "voxtune.engine.families.qwen3_asr.transcriber",
}


def make_transcriber(
    loaded: LoadedModel, aligner: LoadedModel | None = None, batch_size: int = 8
) -> OfflineTranscriber:
    """The offline transcriber ``loaded``'s family gives; ``aligner`` times its words when the
    family takes one (a family that times its own refuses it)."""
    from voxtune.engine.families.table import family_of

    return family_of(loaded.info).offline_transcriber(loaded, aligner, batch_size=batch_size)


def __getattr__(name: str) -> object:
    if name in _FAMILY_EXPORTS:
        import importlib

        return getattr(importlib.import_module(_FAMILY_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Qwen3Transcriber",
    "Transcriber",
    "VadOptions",
    "WindowDecoder",
    "WindowRequest",
    "WindowResult",
    "make_transcriber",
    "speech_regions",
    "transcribe_file",
]
