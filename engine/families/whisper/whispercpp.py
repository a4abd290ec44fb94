"""Whisper run by whisper.cpp: a ggml model file decoded through pywhispercpp's binding.

The binding (``_pywhispercpp``, whisper.cpp's C API) is used rather than
``pywhispercpp.model.Model`` because a Transcript needs what the C API gives per token (id,
probability, start and end) and because the sampling strategy (greedy or beam) is chosen per
call here, not once per model.

Decoding is whisper.cpp's own: its 30 s seek loop, temperature fallback and token
timestamps. Voxtune adds what its other backends do around it: silero-vad speech regions
(each decoded by one ``whisper_full`` call, so a checkpoint falls between regions), language
detection before the first region, and words with confidences built from the tokens.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from voxtune.engine.errors import ModelError
from voxtune.engine.export.ggml_files import GgmlFile, WhisperHparams, read_ggml
from voxtune.engine.families.whisper.alignment import (
    split_words,
    trim_long_boundary_words,
    word_confidence,
)
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
# whisper.cpp decodes nothing from less than a second of audio ("input is too short");
# shorter speech is padded with silence to this length.
MIN_SAMPLES = int(1.1 * SAMPLE_RATE)
WINDOW_SAMPLES = 30 * SAMPLE_RATE
CENTISECOND = 0.01  # whisper.cpp's unit of time
MAX_PROMPT_TOKENS = 223  # as the torch path: half the text context, less one


def _binding():  # type: ignore[no-untyped-def]
    # whisper.cpp's OpenMP threads spin while they wait for work by default; on a machine
    # shared with torch's own threads (and other processes) that spinning took the cores the
    # work needed. Set before whisper.cpp's OpenMP runtime starts (its first import).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import _pywhispercpp

    return _pywhispercpp


def alignment_heads_preset(hparams: WhisperHparams) -> int:
    """whisper.cpp's preset of alignment heads for a model of these sizes."""
    presets = _binding().whisper_alignment_heads_preset
    english = "_EN" if not hparams.multilingual else ""
    sizes = {4: "TINY", 6: "BASE", 12: "SMALL", 24: "MEDIUM"}
    if hparams.n_audio_layer in sizes:
        name = sizes[hparams.n_audio_layer] + english
    elif hparams.n_audio_layer == 32 and hparams.n_vocab >= 51866:
        name = "LARGE_V3_TURBO" if hparams.n_text_layer == 4 else "LARGE_V3"
    elif hparams.n_audio_layer == 32:
        name = "LARGE_V2"
    else:  # not a released size: the heads of the top layers
        name = "N_TOP_MOST"
    return getattr(presets, f"WHISPER_AHEADS_{name}")


@dataclass(frozen=True)
class CppToken:
    id: int
    logprob: float
    start: float  # seconds, relative to the audio given to whisper.cpp (timestamp tokens)
    end: float
    aligned_end: float | None  # where DTW says the token ends; None when it did not run


@dataclass(frozen=True)
class CppSegment:
    start: float
    end: float
    tokens: tuple[CppToken, ...]  # text tokens only (no timestamps, no special tokens)


class WhisperCpp:
    """One whisper.cpp context over one ggml file; calls are serialised (a context decodes
    one audio at a time)."""

    def __init__(self, path: Path, threads: int) -> None:
        from pywhispercpp.utils import redirect_stderr

        self.file: GgmlFile = read_ggml(path)  # checked whole first: whisper.cpp would
        # accept a file cut short and run a model of zeros ("assuming empty model")
        self.threads = max(1, threads)
        self._lock = threading.Lock()
        pw = _binding()
        params = pw.whisper_context_default_params()
        params.use_gpu = False  # pywhispercpp's wheel is a CPU build
        # Word times by DTW over the alignment heads of the model's size (whisper.cpp's
        # presets; a tune keeps its base's heads), as the torch path times them: whisper.cpp's
        # older timestamp-token heuristic put words up to half a second early on FLEURS.
        # whisper.cpp computes DTW only without flash attention.
        params.flash_attn = False
        params.dtw_token_timestamps = True
        params.dtw_aheads_preset = alignment_heads_preset(self.file.hparams)
        # whisper.cpp reports every step of loading on stderr; a user sees it only on failure.
        with redirect_stderr(to=None):
            context = pw.whisper_init_from_file_with_params(str(path), params)
        if context is None:
            raise ModelError(f"{path}: whisper.cpp could not load this model")
        self._context = context
        self.eot = pw.whisper_token_eot(context)
        self.multilingual = bool(pw.whisper_is_multilingual(context))

    def close(self) -> None:
        with self._lock:
            if self._context is not None:
                _binding().whisper_free(self._context)
                self._context = None

    def __del__(self) -> None:
        self.close()

    def text(self, tokens: Sequence[int]) -> str:
        vocabulary = self.file.vocabulary
        raw = b"".join(vocabulary[t] for t in tokens if t < len(vocabulary))
        return raw.decode("utf-8", errors="replace")

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        pw = _binding()
        window = np.ascontiguousarray(audio[:WINDOW_SAMPLES], dtype=np.float32)
        with self._lock:
            pw.whisper_pcm_to_mel(self._context, window, len(window), self.threads)
            probs = np.zeros(pw.whisper_lang_max_id() + 1, dtype=np.float32)
            best = pw.whisper_lang_auto_detect(self._context, 0, self.threads, probs)
        if best < 0:
            raise ModelError(f"{self.file.path}: whisper.cpp could not detect the language")
        return pw.whisper_lang_str(best), float(probs[best])

    def decode(
        self,
        audio: np.ndarray,
        options: TranscriptionOptions,
        language: str | None,
        prompt: Sequence[int],
    ) -> list[CppSegment]:
        """One ``whisper_full`` call over ``audio``; its segments, times relative to it."""
        pw = _binding()
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if len(audio) < MIN_SAMPLES:
            audio = np.pad(audio, (0, MIN_SAMPLES - len(audio)))
        with self._lock:
            params = self._params(options, language, prompt)
            status = pw.whisper_full(self._context, params, audio, len(audio))
            if status != 0:
                raise ModelError(f"{self.file.path}: whisper.cpp failed to decode ({status})")
            return [self._segment(i) for i in range(pw.whisper_full_n_segments(self._context))]

    def _params(self, options: TranscriptionOptions, language: str | None, prompt):  # type: ignore[no-untyped-def]
        pw = _binding()
        strategy = pw.whisper_sampling_strategy
        beam = options.beam_size > 1
        params = pw.whisper_full_default_params(
            strategy.WHISPER_SAMPLING_BEAM_SEARCH if beam else strategy.WHISPER_SAMPLING_GREEDY
        )
        params.n_threads = self.threads
        params.print_progress = params.print_realtime = params.print_timestamps = False
        params.language = language or "auto"
        params.translate = options.task == "translate"
        params.token_timestamps = options.word_timestamps
        params.no_context = True  # the prompt is given here, from the checkpoint
        if not options.condition_on_previous_text:
            params.n_max_text_ctx = 0  # nor carried between whisper.cpp's own windows
        params.suppress_nst = True  # as the torch path's suppress_tokens: no "(music)" etc.
        if beam:
            params.beam_search = {"beam_size": options.beam_size, "patience": -1.0}
        temperatures = options.temperatures or (0.0,)
        params.temperature = temperatures[0]
        step = temperatures[1] - temperatures[0] if len(temperatures) > 1 else 0.0
        params.temperature_inc = step if step > 0 else 0.0  # 0: no fallback
        # whisper.cpp measures a looping window by its token entropy (its counterpart of the
        # compression ratio, same 2.4 default); 0 switches the check off.
        params.entropy_thold = 2.4 if options.compression_ratio_threshold is not None else 0.0
        params.logprob_thold = (
            options.log_prob_threshold if options.log_prob_threshold is not None else -math.inf
        )
        params.no_speech_thold = (
            options.no_speech_threshold if options.no_speech_threshold is not None else 2.0
        )
        if prompt:
            params.set_prompt_tokens(list(prompt))
        elif options.initial_prompt:
            params.initial_prompt = options.initial_prompt
        return params

    def _segment(self, index: int) -> CppSegment:
        pw = _binding()
        context = self._context
        tokens = []
        for j in range(pw.whisper_full_n_tokens(context, index)):
            data = pw.whisper_full_get_token_data(context, index, j)
            if data.id >= self.eot:
                continue
            tokens.append(
                CppToken(
                    data.id,
                    float(data.plog),
                    max(0, data.t0) * CENTISECOND,
                    max(0, data.t1) * CENTISECOND,
                    data.t_dtw * CENTISECOND if data.t_dtw >= 0 else None,
                )
            )
        return CppSegment(
            start=pw.whisper_full_get_segment_t0(context, index) * CENTISECOND,
            end=pw.whisper_full_get_segment_t1(context, index) * CENTISECOND,
            tokens=tuple(tokens),
        )


@dataclass
class WhisperCppLoaded:
    """What ``LoadedModel.model`` holds for the whispercpp backend."""

    engine: WhisperCpp


class WhisperCppTranscriber:
    """The OfflineTranscriber of a ggml file: regions from VAD, each decoded by whisper.cpp."""

    def __init__(self, loaded, vad: VadOptions | None = None) -> None:  # type: ignore[no-untyped-def]
        self.loaded = loaded
        self.engine: WhisperCpp = loaded.model.engine
        self.vad = vad or VadOptions()
        self._language_probability = 1.0

    @property
    def model_name(self) -> str:
        return self.loaded.info.name

    def _regions(self, audio: np.ndarray, options: TranscriptionOptions):  # type: ignore[no-untyped-def]
        duration = len(audio) / SAMPLE_RATE
        if not options.vad:
            return [(0.0, duration)] if duration > 0.1 else []
        return speech_regions(audio, self.vad)

    def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        checkpoint = self.begin(audio, options, offset=offset)
        info = TranscriptionInfo(
            language=checkpoint.language,
            language_probability=self._language_probability,
            duration=offset + len(audio) / SAMPLE_RATE,
            model=self.model_name,
            options=options,
        )
        windows = self.windows(audio, options, checkpoint, offset=offset)
        return (s for segments, _ in windows for s in segments), info

    def begin(
        self, audio: np.ndarray, options: TranscriptionOptions, *, offset: float = 0.0
    ) -> Checkpoint:
        languages = self.loaded.info.languages
        if options.language and options.language not in languages:
            raise ModelError(
                f"{self.model_name}: no language {options.language!r} in this model "
                f"({', '.join(languages[:8])}{', …' if len(languages) > 8 else ''})"
            )
        regions = tuple((offset + a, offset + b) for a, b in self._regions(audio, options))
        start = regions[0][0] if regions else offset
        language, self._language_probability = options.language, 1.0
        if not self.engine.multilingual:
            language = "en"
        elif not language and regions:
            first = sample_index(regions[0][0]) - sample_index(offset)
            window = audio[first : sample_index(regions[0][1]) - sample_index(offset)]
            language, self._language_probability = self.engine.detect_language(window)
        return Checkpoint(regions, 0, start, (), language)

    def windows(
        self,
        audio: np.ndarray,
        options: TranscriptionOptions,
        checkpoint: Checkpoint,
        *,
        offset: float = 0.0,
    ) -> Iterator[tuple[list[Segment], Checkpoint]]:
        """One whisper.cpp call per speech region; the checkpoint after each carries the
        region's last tokens as the next one's prompt, so a resumed run decodes the same."""
        first = sample_index(offset)
        while not checkpoint.finished:
            region_start, region_end = checkpoint.regions[checkpoint.region]
            piece = audio[sample_index(region_start) - first : sample_index(region_end) - first]
            prompt = checkpoint.prompt if options.condition_on_previous_text else ()
            decoded = self.engine.decode(piece, options, checkpoint.language, prompt)
            segments = self._segments(decoded, region_start, region_end, checkpoint.language)
            tokens = tuple(t.id for s in decoded for t in s.tokens)
            following = checkpoint.region + 1
            checkpoint = replace(
                checkpoint,
                region=following,
                seek=checkpoint.regions[following][0] if following < len(checkpoint.regions)
                else region_end,
                prompt=(*checkpoint.prompt, *tokens)[-MAX_PROMPT_TOKENS:],
            )  # fmt: skip
            yield segments, checkpoint

    def transcribe_batch(
        self, audios: Sequence[np.ndarray], options: TranscriptionOptions
    ) -> list[list[Segment]]:
        """One clip after another: whisper.cpp decodes a single audio per call."""
        return [list(self.transcribe(audio, options)[0]) for audio in audios]

    def _segments(
        self, decoded: list[CppSegment], offset: float, limit: float, language: str | None
    ) -> list[Segment]:
        segments: list[Segment] = []
        floor = offset  # words never overlap, across segments either
        for piece in decoded:
            ids = [t.id for t in piece.tokens]
            text = self.engine.text(ids)
            if not text.strip():
                continue
            words = []
            for word in self._words(piece, offset, limit, language):
                start = max(word.start, floor)
                words.append(replace(word, start=start, end=max(word.end, start)))
                floor = words[-1].end
            start = round(min(offset + piece.start, limit), 3)
            end = round(min(max(offset + piece.end, start), limit), 3)
            logprobs = [t.logprob for t in piece.tokens]
            segments.append(
                Segment(
                    start=words[0].start if words else start,
                    end=words[-1].end if words else end,
                    text=text,
                    words=tuple(words),
                    language=language,
                    avg_logprob=float(np.mean(logprobs)) if logprobs else 0.0,
                )
            )
        return segments

    def _words(
        self, piece: CppSegment, offset: float, limit: float, language: str | None
    ) -> list[Word]:
        tokens = piece.tokens
        words: list[Word] = []
        floor = piece.start
        for span in split_words([t.id for t in tokens], self.engine.text, language):
            chosen = [tokens[i] for i in span.token_indices]
            start, end = _span_times(tokens, span.token_indices, floor)
            floor = end
            words.append(
                Word(
                    text=span.text,
                    start=round(min(offset + start, limit), 3),
                    end=round(min(offset + end, limit), 3),
                    confidence=round(word_confidence(np.array([t.logprob for t in chosen])), 4),
                )
            )
        return trim_long_boundary_words(words)


def _span_times(
    tokens: Sequence[CppToken], indices: list[int], floor: float
) -> tuple[float, float]:
    """(start, end) of the tokens at ``indices``, never before ``floor``. With DTW a token
    ends where it is aligned and starts where the token before it ended; the first token of
    a segment starts at its timestamp-token time."""
    first, last = tokens[indices[0]], tokens[indices[-1]]
    if last.aligned_end is None:
        start, end = first.start, last.end
    else:
        before = tokens[indices[0] - 1].aligned_end if indices[0] > 0 else None
        start = before if before is not None else min(first.start, last.aligned_end)
        end = last.aligned_end
    start = max(start, floor)
    return start, max(end, start)


def load_whispercpp(info, device: str):  # type: ignore[no-untyped-def]
    """``LoadedModel`` whose ``model`` is a ``WhisperCppLoaded`` (no torch weights)."""
    import torch

    from voxtune.engine.models.info import LoadedModel

    if device != "cpu":
        raise ModelError(f"whispercpp backend: runs on the CPU (pywhispercpp), not {device}")
    engine = WhisperCpp(info.location, threads=torch.get_num_threads())
    return LoadedModel(
        info=info,
        model=WhisperCppLoaded(engine),  # type: ignore[arg-type]
        processor=None,  # type: ignore[arg-type]  # the vocabulary is the file's own
        device="cpu",
        dtype=torch.float32,
    )
