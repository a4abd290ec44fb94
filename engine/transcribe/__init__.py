"""Speech to text with timed, scored words.

Heavy (torch, transformers): import from the engine process or the CLI, never from ``ui``.
"""

from voxtune.engine.transcribe.files import transcribe_file
from voxtune.engine.transcribe.transcriber import Transcriber
from voxtune.engine.transcribe.vad import VadOptions, speech_regions
from voxtune.engine.transcribe.window import WindowDecoder, WindowRequest, WindowResult

__all__ = [
    "Transcriber",
    "VadOptions",
    "WindowDecoder",
    "WindowRequest",
    "WindowResult",
    "speech_regions",
    "transcribe_file",
]
