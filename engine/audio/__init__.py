"""Audio input: any audio or video file → 16 kHz mono float32."""

from voxtune.engine.audio.audio_file import AudioFile
from voxtune.engine.audio.decode import decode_audio, iter_audio
from voxtune.engine.audio.probe import AudioProbe, probe
from voxtune.engine.audio.sources import (
    AudioSource,
    FileSource,
    InputDevice,
    MicrophoneSource,
    list_input_devices,
)

__all__ = [
    "AudioFile",
    "AudioProbe",
    "AudioSource",
    "FileSource",
    "InputDevice",
    "MicrophoneSource",
    "decode_audio",
    "iter_audio",
    "list_input_devices",
    "probe",
]
