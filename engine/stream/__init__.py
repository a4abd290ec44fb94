"""Live transcription: partial and committed words from a microphone or a file.

``StreamingTranscriber(loaded).run(source)`` yields ``StreamUpdate``s; ``LocalAgreement`` is
the default ``CommitPolicy``. Heavy (torch): import from the engine process or the CLI.
"""

from voxtune.engine.stream.policy import CommitPolicy, LocalAgreement
from voxtune.engine.stream.speech import SpeechDetector
from voxtune.engine.stream.transcriber import StreamingTranscriber
from voxtune.engine.stream.updates import (
    StreamingOptions,
    StreamUpdate,
    live_transcription_options,
)

__all__ = [
    "CommitPolicy",
    "LocalAgreement",
    "SpeechDetector",
    "StreamUpdate",
    "StreamingOptions",
    "StreamingTranscriber",
    "live_transcription_options",
]
