"""Qwen3-ASR transcription with the same surface as ``Transcriber``.

Speech regions (silero-VAD) are cut into chunks of at most ``max_chunk_seconds``; chunks are
decoded greedily in batches, each into one segment. Segment times are the chunk's; word times
come from a Qwen3-ForcedAligner when one is given, otherwise they are unknown (NaN, written as
``null`` in JSON) and subtitles spread the segment's time over its words.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.models import LoadedModel
from voxtune.engine.transcribe.qwen3_aligner import ForcedAligner
from voxtune.engine.transcribe.qwen3_words import ParsedOutput, parse_output
from voxtune.engine.transcribe.vad import VadOptions, speech_regions
from voxtune.engine.types import Segment, TranscriptionInfo, TranscriptionOptions, Word

SAMPLE_RATE = 16000
MIN_CHUNK_SECONDS = 0.1
# Generous for speech (about 3 words a second) so a chunk is never cut short; real models stop
# at end of text long before, random ones run to the limit.
TOKENS_PER_SECOND = 8
MAX_NEW_TOKENS = 512


@dataclass(frozen=True)
class Chunk:
    audio: np.ndarray
    start: float  # seconds, relative to the audio given to ``transcribe``


@dataclass(frozen=True)
class Generation:
    sequences: object  # torch.LongTensor (batch, prompt + new tokens)
    logits: object  # torch.Tensor (batch, new tokens, vocab): the scores greedy decoding saw
    prompt_length: int


def language_names() -> dict[str, str]:
    from transformers.models.qwen3_asr.processing_qwen3_asr import LANGUAGE_CODE_TO_NAME

    return dict(LANGUAGE_CODE_TO_NAME)


class Qwen3Transcriber:
    def __init__(
        self,
        loaded: LoadedModel,
        aligner: LoadedModel | None = None,
        vad: VadOptions | None = None,
        batch_size: int = 8,
        max_chunk_seconds: float = 30.0,
    ) -> None:
        self.loaded = loaded
        self.processor = loaded.processor
        self.aligner = ForcedAligner(aligner) if aligner is not None else None
        self.vad = vad or VadOptions()
        self.batch_size = batch_size
        self.max_chunk_seconds = max_chunk_seconds
        self.names = language_names()
        self.codes = {name.lower(): code for code, name in self.names.items()}

    @property
    def model_name(self) -> str:
        return self.loaded.info.name

    def _check(self, options: TranscriptionOptions) -> None:
        if options.task != "transcribe":
            raise VoxtuneError(f"{self.model_name}: Qwen3-ASR only transcribes (no translate)")
        if options.language and options.language not in self.names:
            raise VoxtuneError(
                f"{self.model_name}: language '{options.language}' is not one Qwen3-ASR knows "
                f"(choose from {', '.join(sorted(self.names))})"
            )

    def chunks(self, audio: np.ndarray, options: TranscriptionOptions) -> list[Chunk]:
        duration = len(audio) / SAMPLE_RATE
        if options.vad:
            regions = speech_regions(audio, self.vad)
        else:
            regions = [(0.0, duration)] if duration >= MIN_CHUNK_SECONDS else []
        chunks = []
        for region_start, region_end in regions:
            start = region_start
            while region_end - start >= MIN_CHUNK_SECONDS:
                end = min(region_end, start + self.max_chunk_seconds)
                piece = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
                chunks.append(Chunk(piece, start))
                start = end
        return chunks

    def inputs(self, chunks: Sequence[Chunk], options: TranscriptionOptions):  # type: ignore[no-untyped-def]
        """The processor's batch (prompt ids, mel features) for ``chunks``, on the device."""
        language = self.names[options.language] if options.language else None
        prompt = options.initial_prompt.strip() if options.initial_prompt else None
        inputs = self.processor.apply_transcription_request(
            audio=[c.audio for c in chunks],
            language=language,
            prompt=[prompt] * len(chunks) if prompt else None,
        )
        inputs = inputs.to(self.loaded.device)
        inputs["input_features"] = inputs["input_features"].to(self.loaded.dtype)
        return inputs

    def generate(self, inputs, max_new_tokens: int) -> Generation:  # type: ignore[no-untyped-def]
        """Greedy decoding; keeps each step's logits (confidences, and checks against a forward)."""
        import torch

        with torch.inference_mode():
            out = self.loaded.model.generate(
                **inputs,
                do_sample=False,
                num_beams=1,
                max_new_tokens=max_new_tokens,
                output_logits=True,
                return_dict_in_generate=True,
            )
        return Generation(
            out.sequences, torch.stack(out.logits, dim=1), inputs["input_ids"].shape[1]
        )

    def _decode(self, chunks: Sequence[Chunk], options: TranscriptionOptions) -> list[ParsedOutput]:
        import torch

        longest = max(len(c.audio) for c in chunks) / SAMPLE_RATE
        limit = min(MAX_NEW_TOKENS, int(longest * TOKENS_PER_SECOND) + 16)
        generation = self.generate(self.inputs(chunks, options), limit)
        logprobs = torch.log_softmax(generation.logits.float(), dim=-1)
        stops = set(self.loaded.model.generation_config.eos_token_id or ())
        results = []
        for row in range(len(chunks)):
            ids = generation.sequences[row, generation.prompt_length :].tolist()
            length = next((i for i, t in enumerate(ids) if t in stops), len(ids))
            scores = logprobs[row, torch.arange(length), ids[:length]].tolist()
            results.append(
                parse_output(self.processor.tokenizer, ids[:length], scores, bool(options.language))
            )
        return results

    def _segment(
        self, chunk: Chunk, parsed: ParsedOutput, options: TranscriptionOptions, offset: float
    ) -> Segment:
        language = options.language or self.codes.get((parsed.language_name or "").lower())
        times = None
        if self.aligner is not None and parsed.words and options.word_timestamps:
            times = self.aligner.align(chunk.audio, [w.text for w in parsed.words], language)
        start = offset + chunk.start
        # Without aligned times the segment carries no words: JSON then shows "words": [] and
        # only segment times, and subtitles share the segment's time out over its text.
        words = (
            tuple(
                Word(w.text, start + t0, start + t1, w.confidence)
                for w, (t0, t1) in zip(parsed.words, times, strict=True)
            )
            if times
            else ()
        )
        return Segment(
            start=start,
            end=start + len(chunk.audio) / SAMPLE_RATE,
            text=parsed.text,
            words=words,
            language=language,
            avg_logprob=parsed.avg_logprob,
        )

    def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """Segments with absolute times (``offset`` is the time of ``audio[0]``).

        The first batch is decoded at once: it says which language the speech is in.
        """
        self._check(options)
        chunks = self.chunks(audio, options)
        first = self._decode(chunks[: self.batch_size], options) if chunks else []
        language, probability = options.language, 1.0 if options.language else 0.0
        if not language and first:
            language = self.codes.get((first[0].language_name or "").lower())
            probability = math.exp(first[0].language_logprob) if language else 0.0
        info = TranscriptionInfo(
            language=language,
            language_probability=probability,
            duration=offset + len(audio) / SAMPLE_RATE,
            model=self.model_name,
            options=options,
        )
        return self._segments(chunks, first, options, offset), info

    def _segments(
        self,
        chunks: list[Chunk],
        first: list[ParsedOutput],
        options: TranscriptionOptions,
        offset: float,
    ) -> Iterator[Segment]:
        decoded = first
        for index in range(0, len(chunks), self.batch_size):
            batch = chunks[index : index + self.batch_size]
            if index:
                decoded = self._decode(batch, options)
            for chunk, parsed in zip(batch, decoded, strict=True):
                yield self._segment(chunk, parsed, options, offset)

    def transcribe_batch(
        self, audios: Sequence[np.ndarray], options: TranscriptionOptions
    ) -> list[list[Segment]]:
        """Clips decoded together (their chunks share batches); times relative to each clip."""
        self._check(options)
        owned = [
            (clip, chunk) for clip, a in enumerate(audios) for chunk in self.chunks(a, options)
        ]
        results: list[list[Segment]] = [[] for _ in audios]
        for index in range(0, len(owned), self.batch_size):
            batch = owned[index : index + self.batch_size]
            decoded = self._decode([chunk for _, chunk in batch], options)
            for (clip, chunk), parsed in zip(batch, decoded, strict=True):
                results[clip].append(self._segment(chunk, parsed, options, 0.0))
        return results
