"""Qwen3-ASR transcription with the same surface as ``Transcriber``, resumable chunk by chunk.

Speech regions (silero-VAD) are cut into chunks of at most ``max_chunk_seconds`` that overlap
inside long regions (``chunks``); chunks are decoded in batches (greedy, or beam search
with ``beam_size`` > 1), each into one segment, and the words two chunks share are merged
(``overlap``). Segment times are the chunk's, cut in the middle of an overlap; word times
come from a Qwen3-ForcedAligner when one is given, otherwise there are no words (JSON marks the
segment ``"timing": "segment"``) and subtitles spread the segment's time over its text.

Like ``Transcriber``, ``begin`` and ``windows`` expose the loop with a ``Checkpoint`` after
every batch, so the job runner persists progress and resumes a long file after a crash.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.families.forced_aligner.aligner import ForcedAligner
from voxtune.engine.families.qwen3_asr.chunks import (
    MIN_CHUNK_SECONDS,
    OVERLAP_SECONDS,
    ChunkSpan,
    check_lengths,
    chunk_spans,
    first_span_at,
)
from voxtune.engine.families.qwen3_asr.overlap import merge_overlap
from voxtune.engine.families.qwen3_asr.words import ParsedOutput, parse_output
from voxtune.engine.models import LoadedModel
from voxtune.engine.transcribe.samples import sample_index
from voxtune.engine.transcribe.vad import VadOptions, speech_regions
from voxtune.engine.types import (
    Checkpoint,
    Segment,
    TranscriptionInfo,
    TranscriptionOptions,
    Word,
)

SAMPLE_RATE = 16000
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
    token_logprobs: object  # torch.Tensor (batch, new tokens): log-probability of each one
    prompt_length: int
    logits: object | None = None  # greedy only: (batch, new tokens, vocab), the scores it saw


@dataclass(frozen=True)
class DecodedChunk:
    span: ChunkSpan
    parsed: ParsedOutput
    language: str | None  # forced, or what the model wrote for this chunk
    times: tuple[tuple[float, float], ...] | None  # per word, from the span's start; aligner


def check_request(model: str, options: TranscriptionOptions, languages: Collection[str]) -> None:
    """VoxtuneError for what Qwen3-ASR cannot be asked: to translate, or a language outside
    ``languages`` (codes)."""
    if options.task != "transcribe":
        raise VoxtuneError(f"{model}: Qwen3-ASR only transcribes (no translate)")
    if options.language and options.language not in languages:
        raise VoxtuneError(
            f"{model}: language '{options.language}' is not one Qwen3-ASR knows "
            f"(choose from {', '.join(sorted(languages))})"
        )


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
        overlap_seconds: float = OVERLAP_SECONDS,
    ) -> None:
        check_lengths(max_chunk_seconds, overlap_seconds)
        self.loaded = loaded
        self.processor = loaded.processor
        self.aligner = ForcedAligner(aligner) if aligner is not None else None
        self.vad = vad or VadOptions()
        self.batch_size = batch_size
        self.max_chunk_seconds = max_chunk_seconds
        self.overlap_seconds = overlap_seconds
        self.names = language_names()
        self.codes = {name.lower(): code for code, name in self.names.items()}

    _language_probability: float = 0.0  # of the first chunk decoded; for TranscriptionInfo

    @property
    def model_name(self) -> str:
        return self.loaded.info.name

    def _check(self, options: TranscriptionOptions) -> None:
        check_request(self.model_name, options, self.names)

    # -- chunks ----------------------------------------------------------------------------

    def _regions(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> list[tuple[float, float]]:
        if options.vad:
            return speech_regions(audio, self.vad)
        duration = len(audio) / SAMPLE_RATE
        return [(0.0, duration)] if duration >= MIN_CHUNK_SECONDS else []

    def spans(self, regions: Sequence[tuple[float, float]]) -> list[ChunkSpan]:
        return chunk_spans(regions, self.max_chunk_seconds, self.overlap_seconds)

    def chunks(self, audio: np.ndarray, options: TranscriptionOptions) -> list[Chunk]:
        """The pieces of ``audio`` decoded one by one (times relative to ``audio[0]``)."""
        return [_cut(audio, s, 0) for s in self.spans(self._regions(audio, options))]

    # -- decoding ----------------------------------------------------------------------------

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

    def generate(self, inputs, max_new_tokens: int, beam_size: int = 1) -> Generation:  # type: ignore[no-untyped-def]
        """Greedy (``beam_size`` 1) or beam search, with each chosen token's log-probability."""
        import torch

        greedy = beam_size == 1
        model = self.loaded.model
        with torch.inference_mode():
            try:
                out = model.generate(
                    **inputs,
                    do_sample=False,
                    num_beams=beam_size,
                    max_new_tokens=max_new_tokens,
                    output_logits=greedy,
                    output_scores=not greedy,
                    return_dict_in_generate=True,
                )
            except torch.OutOfMemoryError as exc:
                rows = inputs["input_ids"].shape[0]
                raise VoxtuneError(
                    f"{self.model_name}: out of {self.loaded.device} memory decoding {rows} "
                    f"chunks with beam {beam_size} (try --batch-size 1, a smaller beam, "
                    "or bfloat16)"
                ) from exc
            prompt_length = inputs["input_ids"].shape[1]
            if greedy:
                logits = torch.stack(out.logits, dim=1)
                chosen = out.sequences[:, prompt_length:, None]
                logprobs = torch.log_softmax(logits.float(), dim=-1).gather(-1, chosen)[..., 0]
                return Generation(out.sequences, logprobs, prompt_length, logits)
            # Beam scores are log-softmaxed per step (then any logits processors the generation
            # config names); following each kept beam back gives every returned token's score.
            logprobs = model.compute_transition_scores(
                out.sequences, out.scores, out.beam_indices, normalize_logits=False
            )
        return Generation(out.sequences, logprobs.float(), prompt_length)

    def _decode(self, chunks: Sequence[Chunk], options: TranscriptionOptions) -> list[ParsedOutput]:
        longest = max(len(c.audio) for c in chunks) / SAMPLE_RATE
        limit = min(MAX_NEW_TOKENS, int(longest * TOKENS_PER_SECOND) + 16)
        generation = self.generate(self.inputs(chunks, options), limit, options.beam_size)
        stops = set(self.loaded.model.generation_config.eos_token_id or ())
        results = []
        for row in range(len(chunks)):
            ids = generation.sequences[row, generation.prompt_length :].tolist()
            length = next((i for i, t in enumerate(ids) if t in stops), len(ids))
            scores = generation.token_logprobs[row, :length].tolist()
            results.append(
                parse_output(self.processor.tokenizer, ids[:length], scores, bool(options.language))
            )
        return results

    def _decoded(
        self, spans: Sequence[ChunkSpan], chunks: Sequence[Chunk], options: TranscriptionOptions
    ) -> list[DecodedChunk]:
        """``chunks`` (the audio of ``spans``) decoded in one batch, words timed if we can."""
        decoded = []
        for span, chunk, parsed in zip(spans, chunks, self._decode(chunks, options), strict=True):
            language = options.language or self.codes.get((parsed.language_name or "").lower())
            times = None
            if self.aligner is not None and parsed.words and options.word_timestamps:
                aligned = self.aligner.align(chunk.audio, [w.text for w in parsed.words], language)
                times = tuple(aligned) if aligned else None
            decoded.append(DecodedChunk(span, parsed, language, times))
        if not options.language and decoded and self._language_probability == 0.0:
            first = decoded[0]
            self._language_probability = (
                math.exp(first.parsed.language_logprob) if first.language else 0.0
            )
        return decoded

    # -- the resumable loop --------------------------------------------------------------------

    def begin(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> Checkpoint:
        """The checkpoint before the first chunk: speech regions (absolute seconds)."""
        self._check(options)
        regions = tuple((offset + a, offset + b) for a, b in self._regions(audio, options))
        start = regions[0][0] if regions else offset
        checkpoint = Checkpoint(regions, 0, start, (), options.language)
        return _checkpoint_at(checkpoint, self.spans(regions), 0, 0)

    def windows(
        self,
        audio: np.ndarray,
        options: TranscriptionOptions,
        checkpoint: Checkpoint,
        *,
        offset: float = 0.0,
    ) -> Iterator[tuple[list[Segment], Checkpoint]]:
        """Decode batch after batch of chunks from ``checkpoint``: each batch's segments and
        the checkpoint after it. ``audio[0]`` is at ``offset``, a sample boundary.

        The last chunk of a batch that overlaps the next one is decoded but not given out:
        its end depends on its successor. The checkpoint points at it (with how many of its
        words the chunk before already gave), and the next batch starts with it. Resuming
        from any checkpoint therefore decodes the same batches as an uninterrupted run.
        """
        self._check(options)
        spans = self.spans(checkpoint.regions)
        index = first_span_at(spans, checkpoint.region, checkpoint.seek)
        skip = checkpoint.skip_words
        first_sample = sample_index(offset)
        step = max(self.batch_size, 2)  # a held-back chunk needs its successor beside it
        while index < len(spans):
            batch = spans[index : index + step]
            chunks = [_cut(audio, span, first_sample) for span in batch]
            decoded = self._decoded(batch, chunks, options)
            cuts = _cuts(decoded, skip)
            held = batch[-1].shared_after > 0
            given = decoded[:-1] if held else decoded
            segments = [
                segment
                for item, (head, tail) in zip(given, cuts, strict=False)  # not the held one
                if (segment := _segment(item, head, tail)) is not None
            ]
            index += len(given)
            skip = cuts[-1][0] if held else 0  # what the held chunk's predecessor already gave
            checkpoint = _checkpoint_at(checkpoint, spans, index, skip)
            yield segments, checkpoint

    def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        """Segments with absolute times (``offset`` is the time of ``audio[0]``).

        The first batch is decoded at once: it says which language the speech is in.
        """
        self._language_probability = 0.0
        checkpoint = self.begin(audio, options, offset=offset)
        steps = self.windows(audio, options, checkpoint, offset=offset)
        first = next(steps, None)
        language, probability = options.language, 1.0 if options.language else 0.0
        if not language and first is not None:
            language = next((s.language for s in first[0] if s.language), None)
            probability = self._language_probability if language else 0.0
        info = TranscriptionInfo(
            language=language,
            language_probability=probability,
            duration=offset + len(audio) / SAMPLE_RATE,
            model=self.model_name,
            options=options,
        )
        firsts = first[0] if first is not None else []
        return _chain(firsts, (s for segments, _ in steps for s in segments)), info

    def transcribe_batch(
        self, audios: Sequence[np.ndarray], options: TranscriptionOptions
    ) -> list[list[Segment]]:
        """Clips decoded together (their chunks share batches); times relative to each clip."""
        self._check(options)
        owned = [
            (clip, span)
            for clip, audio in enumerate(audios)
            for span in self.spans(self._regions(audio, options))
        ]
        decoded: list[list[DecodedChunk]] = [[] for _ in audios]
        for index in range(0, len(owned), self.batch_size):
            batch = owned[index : index + self.batch_size]
            chunks = [_cut(audios[clip], span, 0) for clip, span in batch]
            items = self._decoded([span for _, span in batch], chunks, options)
            for (clip, _), item in zip(batch, items, strict=True):
                decoded[clip].append(item)
        results: list[list[Segment]] = []
        for items in decoded:
            cuts = _cuts(items, 0)
            segments = (
                _segment(i, head, tail) for i, (head, tail) in zip(items, cuts, strict=True)
            )
            results.append([s for s in segments if s is not None])
        return results


def _cut(audio: np.ndarray, span: ChunkSpan, first_sample: int) -> Chunk:
    """The samples of ``span`` in ``audio``, whose first sample is ``first_sample``."""
    piece = audio[sample_index(span.start) - first_sample : sample_index(span.end) - first_sample]
    return Chunk(piece, span.start)


def _chain(first: list[Segment], rest: Iterator[Segment]) -> Iterator[Segment]:
    yield from first
    yield from rest


def _cuts(decoded: Sequence[DecodedChunk], skip: int) -> list[tuple[int, int]]:
    """Per chunk, the slice of its words it gives (``words[head:tail]``); the first chunk
    starts at word ``skip``. A last chunk that overlaps one not given keeps its tail."""
    cuts = []
    head = skip
    for index, item in enumerate(decoded):
        words = [w.text for w in item.parsed.words]
        tail, next_head = len(words), 0
        following = decoded[index + 1] if index + 1 < len(decoded) else None
        if following is not None and item.span.shared_after > 0:
            shared = item.span.end - following.span.start
            cut = merge_overlap(
                words,
                [w.text for w in following.parsed.words],
                shared / item.span.duration,
                shared / following.span.duration,
            )
            tail, next_head = cut.keep, cut.skip
        cuts.append((head, max(head, tail)))
        head = next_head
    return cuts


def _segment(item: DecodedChunk, head: int, tail: int) -> Segment | None:
    """The chunk's words ``[head:tail]`` as a segment; None when none are left."""
    span, parsed = item.span, item.parsed
    kept = parsed.words[head:tail]
    text = "".join(w.text for w in kept)
    if not text.strip():
        return None
    # Neighbours that share audio meet in the middle of it, so their segments do not overlap;
    # a kept word the aligner times past that point widens its segment to hold it.
    start = span.start + span.shared_before / 2
    end = span.end - span.shared_after / 2
    words: tuple[Word, ...] = ()
    if item.times:
        times = item.times[head:tail]
        words = tuple(
            Word(w.text, span.start + t0, span.start + t1, w.confidence)
            for w, (t0, t1) in zip(kept, times, strict=True)
        )
        start, end = min(start, words[0].start), max(end, words[-1].end)
    logprobs = [p for w in kept for p in w.logprobs]
    return Segment(
        start=start,
        end=end,
        text=text,
        words=words,
        language=item.language,
        avg_logprob=sum(logprobs) / len(logprobs) if logprobs else 0.0,
    )


def _checkpoint_at(
    checkpoint: Checkpoint, spans: Sequence[ChunkSpan], index: int, skip: int
) -> Checkpoint:
    """``checkpoint`` moved to the chunk ``spans[index]`` (finished past the last one)."""
    if index >= len(spans):
        end = checkpoint.regions[-1][1] if checkpoint.regions else checkpoint.seek
        return replace(checkpoint, region=len(checkpoint.regions), seek=end, skip_words=0)
    span = spans[index]
    return replace(checkpoint, region=span.region, seek=span.start, skip_words=skip)
