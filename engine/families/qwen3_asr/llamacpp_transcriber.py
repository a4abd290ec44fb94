"""Qwen3-ASR transcription by llama.cpp: the same chunks, prompts, parsing, merging and
(optional) forced-aligner word times as the torch path; only the decoding differs.

llama.cpp decodes greedily, one chunk at a time (a beam size above 1 is decoded greedily too).
Its ``qwen3a`` front end turns every started 100-frame conv chunk into 13 audio tokens, where
transformers keeps only the frames the audio fills; so each chunk is padded with silence to
a whole number of conv chunks, and no audio token is made from padding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voxtune.engine.families.qwen3_asr.transcriber import (
    MAX_NEW_TOKENS,
    SAMPLE_RATE,
    TOKENS_PER_SECOND,
    Chunk,
    Qwen3Transcriber,
)
from voxtune.engine.families.qwen3_asr.words import ParsedOutput, parse_output
from voxtune.engine.types import TranscriptionOptions

HOP = 160  # samples per mel frame
CONV_CHUNK_FRAMES = 100  # llama.cpp's qwen3a conv chunk (n_window 50)


def whole_conv_chunks(audio: np.ndarray) -> np.ndarray:
    """``audio`` with trailing silence up to the next length whose mel frames (llama.cpp
    counts ``samples // 160 + 1``) fill whole conv chunks; transformers counts
    ``ceil(samples / 160)`` frames, the same number for these lengths."""
    chunk = CONV_CHUNK_FRAMES * HOP
    frames = len(audio) // HOP + 1
    chunks = -(-frames // CONV_CHUNK_FRAMES)
    target = chunks * chunk - HOP // 2  # mid-hop: never a multiple of 160 samples
    if target < len(audio):
        target += chunk
    return np.pad(audio, (0, target - len(audio)))


class LlamaCppQwen3Transcriber(Qwen3Transcriber):
    """``Qwen3Transcriber`` whose chunks llama.cpp decodes (``loaded.model`` is the runner)."""

    def _decode(self, chunks: Sequence[Chunk], options: TranscriptionOptions) -> list[ParsedOutput]:
        runner = self.loaded.model
        tokenizer = self.processor.tokenizer
        start = tokenizer.convert_tokens_to_ids("<|audio_start|>")
        end = tokenizer.convert_tokens_to_ids("<|audio_end|>")
        results = []
        for chunk in chunks:
            audio = whole_conv_chunks(chunk.audio)
            ids = self.inputs([Chunk(audio, chunk.start)], options)["input_ids"][0].tolist()
            limit = min(
                MAX_NEW_TOKENS, int(len(chunk.audio) / SAMPLE_RATE * TOKENS_PER_SECOND) + 16
            )
            generation = runner.generate(
                ids[: ids.index(start)], audio, ids[ids.index(end) + 1 :], max_new_tokens=limit
            )
            results.append(
                parse_output(tokenizer, generation.ids, generation.logprobs, bool(options.language))
            )
        return results
