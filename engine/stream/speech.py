"""Is anyone speaking? silero-vad over a live stream, one 32 ms frame at a time.

The live transcriber asks this before paying for a decode: silence and noise cost a few
milliseconds a second here instead of a quarter second an encoder call there.
"""

from __future__ import annotations

import numpy as np

from voxtune.engine.transcribe.vad import load_vad_model

SAMPLE_RATE = 16000
FRAME = 512  # samples silero-vad takes at 16 kHz (32 ms)
FRAME_SECONDS = FRAME / SAMPLE_RATE


class SpeechDetector:
    """Speech probability for each frame of a stream fed in pieces of any size."""

    def __init__(self, threshold: float = 0.5, model=None) -> None:  # type: ignore[no-untyped-def]
        self.threshold = threshold
        self._model = model if model is not None else load_vad_model()
        self._model.reset_states()
        self._leftover = np.zeros(0, dtype=np.float32)
        self.frames_seen = 0

    def feed(self, audio: np.ndarray) -> np.ndarray:
        """Probabilities of the whole frames completed by ``audio`` (a partial frame waits)."""
        import torch

        samples = np.concatenate((self._leftover, audio)) if self._leftover.size else audio
        count = len(samples) // FRAME
        self._leftover = np.array(samples[count * FRAME :], dtype=np.float32)
        probabilities = np.zeros(count, dtype=np.float32)
        if count:
            frames = torch.from_numpy(
                np.ascontiguousarray(samples[: count * FRAME], dtype=np.float32)
            ).reshape(count, FRAME)
            with torch.inference_mode():
                for i in range(count):
                    probabilities[i] = float(self._model(frames[i], SAMPLE_RATE))
        self.frames_seen += count
        return probabilities

    def is_speech(self, probabilities: np.ndarray) -> np.ndarray:
        return probabilities >= self.threshold

    def forget(self) -> None:
        """Start listening afresh, keeping the frame count (and so the timing) going.

        The model's recurrent state carries the loudness of what it heard: after a loud
        speaker it missed six seconds of a speaker 30 dB quieter. Between utterances
        nothing is worth carrying over.
        """
        self._model.reset_states()

    def reset(self) -> None:
        self._model.reset_states()
        self._leftover = np.zeros(0, dtype=np.float32)
