"""A Qwen3-ASR GGUF (``model.gguf`` + ``mmproj.gguf``) decoded by llama.cpp through libmtmd.

The prompt's ids come from Voxtune's own processor (the same as the torch path); only the
audio goes through mtmd, which computes the mel features, runs the ``qwen3a`` encoder and
feeds its embeddings to the decoder between ``<|audio_start|>`` and ``<|audio_end|>``.
Decoding is greedy: the argmax of llama.cpp's logits, with each chosen token's
log-probability, so words keep their confidences.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxtune.engine.errors import ModelError

SAMPLE_RATE = 16000
# ggml's log levels: what llama.cpp prints is kept for error messages, not shown.
_LOG_ERROR = 4
_log_lock = threading.Lock()
_log_lines: list[str] = []
_log_callback = None


@dataclass(frozen=True)
class LlamaCppGeneration:
    ids: list[int]  # generated, without the prompt, up to and without the stop token
    logprobs: list[float]  # of each id
    logits: np.ndarray | None  # (steps, vocab) when asked: the scores each step saw
    audio_tokens: int  # embeddings the encoder gave the decoder
    text_chunks: tuple[tuple[int, ...], ...]  # the ids mtmd put around the audio


def _quiet_logs() -> None:
    """Route llama.cpp's and mtmd's logging into a buffer (the CLI's stderr stays quiet);
    errors from it are quoted when loading fails."""
    global _log_callback
    from voxtune.engine.backends.llamacpp_native import load_llamacpp

    load_llamacpp()
    from llama_cpp_py_sync._cffi_bindings import get_ffi, get_lib, get_mtmd_lib

    if _log_callback is not None:
        return
    ffi = get_ffi()

    def collect(level: int, text: Any, _user: Any) -> None:
        if level >= _LOG_ERROR and text != ffi.NULL:
            with _log_lock:
                _log_lines.append(ffi.string(text).decode("utf-8", "replace").strip())
                del _log_lines[:-20]

    _log_callback = ffi.callback("ggml_log_callback", collect)
    get_lib().llama_log_set(_log_callback, ffi.NULL)
    mtmd = get_mtmd_lib()
    mtmd.mtmd_log_set(_log_callback, ffi.NULL)
    mtmd.mtmd_helper_log_set(_log_callback, ffi.NULL)


def _last_error() -> str:
    with _log_lock:
        lines = [line for line in _log_lines if line]
        _log_lines.clear()
    return lines[-1] if lines else "no message from llama.cpp"


class LlamaCppQwen3:
    """One loaded GGUF pair; ``generate`` decodes one chunk of audio at a time."""

    def __init__(
        self,
        text: Path,
        mmproj: Path,
        *,
        threads: int,
        context: int = 2048,
        stop: tuple[int, ...] = (),
        cache_type: str = "f16",
    ) -> None:
        from llama_cpp_py_sync import Llama
        from llama_cpp_py_sync.multimodal import MultimodalContext, MultimodalError

        _quiet_logs()
        try:
            self.llama = Llama(
                str(text),
                n_ctx=context,
                n_batch=512,
                n_threads=threads,
                verbose=False,
                type_k=cache_type,
                type_v=cache_type,
                flash_attn_type=0,
            )
        except (RuntimeError, OSError) as exc:
            raise ModelError(f"{text}: llama.cpp cannot load it ({_last_error()})") from exc
        try:
            self.media = MultimodalContext(
                self.llama,
                str(mmproj),
                use_gpu=False,
                n_threads=threads,
                warmup=False,
                flash_attn_type=0,
            )
        except (MultimodalError, OSError) as exc:
            self.llama.close()
            raise ModelError(f"{mmproj}: libmtmd cannot load it ({_last_error()})") from exc
        if not self.media.supports_audio:
            raise ModelError(f"{mmproj}: an mmproj without an audio encoder")
        self.context = context
        self.stop = stop  # the ids that end a transcription
        self.threads = threads
        self.vocab = int(self.llama.n_vocab)

    def close(self) -> None:
        self.media.close()
        self.llama.close()

    def generate(
        self,
        prefix: Sequence[int],
        audio: np.ndarray,
        suffix: Sequence[int],
        *,
        max_new_tokens: int,
        stop: Sequence[int] | None = None,
        keep_logits: bool = False,
        force: Sequence[int] | None = None,
    ) -> LlamaCppGeneration:
        """Greedy decoding after ``prefix`` ids, the audio, then ``suffix`` ids. ``force``
        (for comparisons) feeds those ids in turn instead of the chosen ones; ``ids`` and
        ``logprobs`` still say what llama.cpp chose."""
        from llama_cpp_py_sync.multimodal import MultimodalError, MultimodalPrompt

        self.llama._clear_context_state()  # a fresh context per chunk, as a batch row is
        media = self.media
        ffi, lib = media._ffi, media._lib
        samples = np.ascontiguousarray(audio, dtype=np.float32)
        bitmap = lib.mtmd_bitmap_init_from_audio(
            len(samples), ffi.cast("float *", ffi.from_buffer(samples))
        )
        if bitmap == ffi.NULL:
            raise ModelError(f"libmtmd refused {len(samples)} samples of audio")
        chunks = lib.mtmd_input_chunks_init()
        marker = media.marker.encode("utf-8")
        text = ffi.new("char[]", marker)
        request = ffi.new("mtmd_input_text *")
        request.text, request.text_len = text, len(marker)
        request.add_special, request.parse_special = False, True
        if lib.mtmd_tokenize(
            media._ctx, chunks, request, ffi.new("const mtmd_bitmap *[]", [bitmap]), 1
        ):
            lib.mtmd_input_chunks_free(chunks)
            lib.mtmd_bitmap_free(bitmap)
            raise ModelError(f"libmtmd could not tokenise the audio ({_last_error()})")
        with MultimodalPrompt(media, chunks, [bitmap]) as prompt:
            text_chunks = tuple(c.text_tokens for c in prompt if c.type == "text")
            audio_tokens = sum(c.n_tokens for c in prompt if c.type == "audio")
            needed = len(prefix) + sum(c.n_tokens for c in prompt) + len(suffix)
            if needed >= self.context:
                raise ModelError(
                    f"a prompt of {needed} tokens does not fit llama.cpp's context of "
                    f"{self.context} (shorten the initial prompt)"
                )
            position = self.llama._eval_tokens(list(prefix), 0)
            try:
                position = media.evaluate_prompt(prompt, n_past=position)
            except MultimodalError as exc:
                raise ModelError(f"libmtmd could not encode the audio ({_last_error()})") from exc
        position = self.llama._eval_tokens(list(suffix), position)
        ids: list[int] = []
        logprobs: list[float] = []
        kept: list[np.ndarray] = []
        stops = set(self.stop if stop is None else stop)
        for _ in range(max(0, min(max_new_tokens, self.context - position - 1))):
            logits = self._logits()
            token = int(np.argmax(logits))
            shifted = logits - logits[token]
            logprobs.append(float(-np.log(np.exp(shifted.astype(np.float64)).sum())))
            if keep_logits:
                kept.append(logits)
            if token in stops:
                logprobs.pop()
                break
            ids.append(token)
            step = len(ids) - 1
            fed = force[step] if force is not None and step < len(force) else token
            position = self.llama._eval_tokens([fed], position)
        return LlamaCppGeneration(
            ids, logprobs, np.stack(kept) if kept else None, audio_tokens, text_chunks
        )

    def _logits(self) -> np.ndarray:
        ffi = self.llama._ffi
        pointer = self.llama._lib.llama_get_logits_ith(self.llama._ctx, -1)
        if pointer == ffi.NULL:
            raise ModelError(f"llama.cpp returned no logits ({_last_error()})")
        return np.frombuffer(ffi.buffer(pointer, 4 * self.vocab), dtype=np.float32).copy()
