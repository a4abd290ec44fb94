"""Speech to text with timed, scored words.

Heavy (torch, transformers): import from the engine process or the CLI, never from ``ui``.
"""

from __future__ import annotations

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.transcriber import Qwen3Transcriber
from voxtune.engine.families.whisper.transcriber import Transcriber
from voxtune.engine.families.whisper.window import WindowDecoder, WindowRequest, WindowResult
from voxtune.engine.models import LoadedModel
from voxtune.engine.transcribe.files import transcribe_file
from voxtune.engine.transcribe.vad import VadOptions, speech_regions


def make_transcriber(
    loaded: LoadedModel, aligner: LoadedModel | None = None, batch_size: int = 8
) -> Transcriber | Qwen3Transcriber:
    """The transcriber for ``loaded``'s family; ``aligner`` (Qwen3-ForcedAligner) times words.

    Both kinds offer the same loop (``transcribe``, ``begin``/``windows``, ``transcribe_batch``),
    so the job runner and the CLI need not know which family they run.
    """
    if loaded.info.family == "qwen3_asr":
        return Qwen3Transcriber(loaded, aligner, batch_size=batch_size)
    if loaded.info.family == "qwen3_forced_aligner":
        raise ModelError(
            f"{loaded.info.name}: a forced aligner times words but does not transcribe "
            "(pass it as --aligner with a Qwen3-ASR model)"
        )
    return Transcriber(loaded, batch_size=batch_size)


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
