"""Word times from Qwen3-ForcedAligner: the audio and the words in, a time class per boundary.

The aligner reads the audio, then each word followed by two ``<timestamp>`` markers; at each
marker it classifies the time (in steps of the processor's ``timestamp_segment_time``, 80 ms).
transformers' processor builds the input and turns the classes into monotonic times.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voxtune.engine.models import LoadedModel

SAMPLE_RATE = 16000


class ForcedAligner:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.processor = loaded.processor

    def align(
        self, audio: np.ndarray, words: Sequence[str], language: str | None
    ) -> list[tuple[float, float]] | None:
        """(start, end) in seconds from ``audio[0]`` per word; None when it cannot align them.

        Words the aligner does not see (punctuation only) get the end of the word before.
        """
        import torch

        pieces = [self.processor.split_words_for_alignment(w, language) for w in words]
        flat = [p for group in pieces for p in group]
        if not flat:
            return None
        try:
            inputs, word_lists = self.processor.prepare_forced_aligner_inputs(
                audio=[audio], transcript=[" ".join(flat)], language=language
            )
        except (ValueError, ImportError):
            return None  # a language the aligner does not know, or a missing word splitter
        if word_lists[0] != flat:
            return None
        inputs = inputs.to(self.loaded.device)
        inputs["input_features"] = inputs["input_features"].to(self.loaded.dtype)
        with torch.inference_mode():
            logits = self.loaded.model(**inputs).logits
        timed = self.processor.decode_forced_alignment(
            logits, inputs["input_ids"], word_lists, self.loaded.model.config.timestamp_token_id
        )[0]
        duration = len(audio) / SAMPLE_RATE
        times: list[tuple[float, float]] = []
        index, previous = 0, 0.0
        for group in pieces:
            if not group:
                times.append((previous, previous))
                continue
            first, last = timed[index], timed[index + len(group) - 1]
            start = min(max(float(first["start_time"]), previous), duration)
            end = min(max(float(last["end_time"]), start), duration)
            times.append((start, end))
            index += len(group)
            previous = end
        return times
