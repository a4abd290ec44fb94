"""A Qwen3-ASR export run by onnxruntime, behind the same ``Qwen3Transcriber`` as torch.

Chunking, prompts, output parsing, overlap merging and word timing (a forced aligner) are the
torch path's own code; only ``generate`` moves to onnxruntime: each chunk's audio through
``audio_encoder.onnx`` once, then the prompt and every new token through ``decoder.onnx``,
whose key/value cache is carried between steps as numpy arrays. Greedy decoding follows
``generate``'s (same prompt padding, positions and stopping), so it picks the same tokens;
beam search keeps the best ``beam_size`` continuations of each chunk and finishes them as
``generate`` does (a hypothesis ends at an end token, scored by its mean log-probability).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from voxtune.engine.errors import ModelError
from voxtune.engine.export.folder import read_export_json
from voxtune.engine.families.qwen3_asr.onnx_export import GRAPHS, cache_names
from voxtune.engine.families.qwen3_asr.transcriber import Generation, Qwen3Transcriber


class Qwen3OnnxModel:
    """The two sessions, and the configs the transcriber asks ``loaded.model`` for."""

    def __init__(self, folder: Path, metadata: dict, device: str = "cpu") -> None:
        import onnxruntime as ort

        from voxtune.engine.families.whisper.onnx_runner import providers, session_options

        self.folder = folder
        self.config = SimpleNamespace(**read_export_json(folder / "config.json", "ONNX"))
        generation = read_export_json(folder / "generation_config.json", "ONNX")
        self.generation_config = SimpleNamespace(**generation)
        options, chosen = session_options(), providers(device)
        try:
            self.encoder, self.decoder = (
                ort.InferenceSession(str(folder / name), options, providers=chosen)
                for name in GRAPHS
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{folder}: cannot load the ONNX export ({line})") from exc
        self.layers = int(metadata["decoder_layers"])
        self.kv_heads = int(metadata["key_value_heads"])
        self.head_dim = int(metadata["head_dim"])
        self.hidden = int(metadata["hidden_size"])
        self.chunk = int(metadata["mel_chunk_frames"])
        self.past_names = cache_names(self.layers, "past_key_values")

    def encode(self, features: np.ndarray, length: int) -> np.ndarray:
        """One item's audio embeddings: ``features`` [bins, frames], ``length`` real frames."""
        frames = -(-length // self.chunk) * self.chunk
        piece = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        [rows] = self.encoder.run(
            None, {"input_features": piece, "feature_length": np.array([length], np.int64)}
        )
        return rows

    def empty_cache(self, batch: int) -> list[np.ndarray]:
        empty = np.zeros((batch, self.kv_heads, 0, self.head_dim), np.float32)
        return [empty] * (2 * self.layers)

    def step(
        self,
        ids: np.ndarray,
        mask: np.ndarray,
        positions: np.ndarray,
        audio: np.ndarray | None,
        cache: list[np.ndarray],
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Next-token logits [batch, vocab] after ``ids``, and the grown cache."""
        feeds: dict[str, np.ndarray] = {
            "input_ids": ids.astype(np.int64),
            "attention_mask": mask.astype(np.int64),
            "position_ids": positions.astype(np.int64),
            "audio_features": np.zeros((0, self.hidden), np.float32) if audio is None else audio,
        }
        feeds.update(zip(self.past_names, cache, strict=True))
        logits, *grown = self.decoder.run(None, feeds)
        return logits, grown


@dataclass
class _Beam:
    tokens: list[int]
    logprobs: list[float]  # of each token, as ``compute_transition_scores`` gives them
    score: float  # their sum


class Qwen3OnnxTranscriber(Qwen3Transcriber):
    """``Qwen3Transcriber`` whose ``generate`` runs the export."""

    @property
    def runner(self) -> Qwen3OnnxModel:
        return self.loaded.model

    def generate(self, inputs, max_new_tokens: int, beam_size: int = 1) -> Generation:  # type: ignore[no-untyped-def]
        import torch

        ids = inputs["input_ids"].numpy()
        mask = inputs["attention_mask"].numpy()
        features = inputs["input_features"].float().numpy()
        lengths = inputs["input_features_mask"].sum(-1).tolist()
        audio = np.concatenate(
            [self.runner.encode(features[i], int(n)) for i, n in enumerate(lengths)]
        )
        prompt_length = ids.shape[1]
        if beam_size == 1:
            sequences, logprobs, logits = self._greedy(ids, mask, audio, max_new_tokens)
            return Generation(
                torch.from_numpy(sequences),
                torch.from_numpy(logprobs),
                prompt_length,
                torch.from_numpy(logits),
            )
        rows = [
            self._beam(ids[i : i + 1], mask[i : i + 1], rows, max_new_tokens, beam_size)
            for i, rows in enumerate(_split_audio(audio, ids, self.runner))
        ]
        longest = max(len(beam.tokens) for beam in rows)
        pad = self._pad()
        sequences = np.full((len(rows), prompt_length + longest), pad, np.int64)
        logprobs = np.zeros((len(rows), longest), np.float32)
        sequences[:, :prompt_length] = ids
        for row, beam in enumerate(rows):
            sequences[row, prompt_length : prompt_length + len(beam.tokens)] = beam.tokens
            logprobs[row, : len(beam.logprobs)] = beam.logprobs
        return Generation(torch.from_numpy(sequences), torch.from_numpy(logprobs), prompt_length)

    # -- greedy, as ``generate`` does it ------------------------------------------------------

    def _greedy(
        self, ids: np.ndarray, mask: np.ndarray, audio: np.ndarray, limit: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        runner, stops, pad = self.runner, self._stops(), self._pad()
        batch = ids.shape[0]
        positions = _positions(mask)
        logits, cache = runner.step(ids, mask, positions, audio, runner.empty_cache(batch))
        chosen, scores, seen = [], [], []
        running = np.ones(batch, dtype=bool)
        for _ in range(limit):
            seen.append(logits)
            token = np.where(running, logits.argmax(-1), pad)
            chosen.append(token)
            scores.append(_log_softmax(logits)[np.arange(batch), token])
            running &= ~np.isin(token, stops)
            if not running.any() or len(chosen) == limit:
                break
            mask = np.concatenate([mask, np.ones((batch, 1), mask.dtype)], axis=1)
            positions = positions[:, -1:] + 1
            logits, cache = runner.step(token[:, None], mask, positions, None, cache)
        sequences = np.concatenate([ids, np.stack(chosen, axis=1)], axis=1)
        return sequences, np.stack(scores, axis=1), np.stack(seen, axis=1)

    # -- beam search, one chunk at a time -----------------------------------------------------

    def _beam(
        self, ids: np.ndarray, mask: np.ndarray, audio: np.ndarray, limit: int, width: int
    ) -> _Beam:
        """The best of ``width`` beams over one prompt. As ``generate`` (length penalty 1,
        no early stop): each step extends every live beam by its ``2 * width`` best tokens;
        a continuation ending in an end token is a finished hypothesis, scored by its summed
        log-probability over its length (the end token included); the ``width`` best others
        live on. The search ends when no live beam can beat the worst of ``width`` finished
        ones, or at ``limit`` tokens (live beams then count as finished)."""
        runner, stops = self.runner, set(self._stops().tolist())
        positions = _positions(mask)
        logits, cache = runner.step(ids, mask, positions, audio, runner.empty_cache(1))
        beams = [_Beam([], [], 0.0)]
        finished: list[tuple[float, _Beam]] = []
        for step in range(limit):
            logprobs = _log_softmax(logits)
            candidates = []
            for row, beam in enumerate(beams):
                best = np.argpartition(-logprobs[row], 2 * width)[: 2 * width]
                for token in best.tolist():
                    value = float(logprobs[row, token])
                    candidates.append((beam.score + value, row, token, value))
            candidates.sort(key=lambda c: -c[0])
            live: list[tuple[int, _Beam]] = []
            for rank, (score, row, token, value) in enumerate(candidates[: 2 * width]):
                beam = _Beam([*beams[row].tokens, token], [*beams[row].logprobs, value], score)
                if token in stops:
                    if rank < width:  # generate only keeps ends among the top ``width``
                        finished.append((score / len(beam.tokens), beam))
                elif len(live) < width:
                    live.append((row, beam))
            finished = sorted(finished, key=lambda f: -f[0])[:width]
            if not live or step + 1 == limit:
                break
            # Live beams can only lose score; with ``width`` finished, stop when the best live
            # one (at its current length, generate's heuristic) cannot beat the worst of them.
            if len(finished) == width and live[0][1].score / (step + 1) <= finished[-1][0]:
                break
            rows = np.array([row for row, _ in live], np.int64)
            beams = [beam for _, beam in live]
            cache = [layer[rows] for layer in cache]
            mask = np.concatenate([mask[rows], np.ones((len(rows), 1), mask.dtype)], axis=1)
            positions = positions[rows, -1:] + 1
            tokens = np.array([[beam.tokens[-1]] for beam in beams], np.int64)
            logits, cache = runner.step(tokens, mask, positions, None, cache)
        # Beams still live at the end are hypotheses too (when the limit cut them short).
        finished += [(beam.score / len(beam.tokens), beam) for _, beam in live]
        return max(finished, key=lambda f: f[0])[1]

    def _stops(self) -> np.ndarray:
        stops = self.runner.generation_config.eos_token_id
        return np.array(stops if isinstance(stops, list) else [stops], np.int64)

    def _pad(self) -> int:
        pad = getattr(self.runner.generation_config, "pad_token_id", None)
        return int(pad if pad is not None else self._stops()[0])


def _positions(mask: np.ndarray) -> np.ndarray:
    """Rotary positions as ``generate`` computes them: real tokens counted, padding at 1."""
    positions = mask.cumsum(-1) - 1
    return np.where(mask == 0, 1, positions)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _split_audio(audio: np.ndarray, ids: np.ndarray, runner: Qwen3OnnxModel) -> list[np.ndarray]:
    """The batch's audio rows cut per item (each prompt holds one audio token per row)."""
    token = int(runner.config.audio_token_id)
    counts = (ids == token).sum(-1)
    return np.split(audio, np.cumsum(counts)[:-1])


def load_onnx_qwen3(info, metadata: dict, device: str):  # type: ignore[no-untyped-def]
    """``LoadedModel`` whose ``model`` is a ``Qwen3OnnxModel``."""
    import torch
    from transformers import AutoProcessor

    from voxtune.engine.models.info import LoadedModel

    folder = info.location
    try:
        processor = AutoProcessor.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: incomplete ONNX export (processor: {exc})") from exc
    runner = Qwen3OnnxModel(folder, metadata, device)
    return LoadedModel(
        info=info, model=runner, processor=processor, device="cpu", dtype=torch.float32
    )
