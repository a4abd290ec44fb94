"""What Whisper's decoding asks of a model, whichever engine runs it.

The decoding loop, the token rules, language detection, the teacher-forced pass and DTW are
written once (``decoding``, ``window``, ``alignment``, ``continuation``); a runner only
encodes audio features and runs the decoder. ``TorchRunner`` drives a transformers model;
``onnx_runner.OnnxRunner`` drives an exported folder with onnxruntime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch


class WhisperRunner(Protocol):
    config: Any  # vocab_size, decoder_attention_heads, max_target_positions
    generation_config: Any  # alignment_heads, suppress_tokens, is_multilingual, …

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        """Encoder states [batch, frames, width] of log-mel ``features``."""
        ...

    def decode(
        self, ids: torch.Tensor, states: torch.Tensor, cache: Any, logits_from: int = 0
    ) -> tuple[torch.Tensor, Any]:
        """float32 logits [batch, tokens - logits_from, vocab] of ``ids`` after ``cache``
        (None: from the start; the cross-attention keys/values of ``states`` are computed
        then, once). Positions before ``logits_from`` get no logits: the vocabulary
        projection is the largest product of a step, and a loop wants only the last."""
        ...

    def reorder(self, cache: Any, rows: Sequence[int]) -> Any:
        """The cache of each new row ``i`` is that of old row ``rows[i]`` (beam search)."""
        ...

    def crop(self, cache: Any, drop: int) -> Any:
        """The cache without its last ``drop`` positions."""
        ...

    def teacher_forced(
        self, ids: torch.Tensor, states: torch.Tensor, heads: Sequence[tuple[int, int]]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """float32 logits [batch, tokens, vocab] and the raw cross-attention scores (before
        softmax) of ``heads``: [batch, heads, tokens, frames], None when ``heads`` is empty."""
        ...


class TorchRunner:
    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.model = model

    @property
    def config(self):  # type: ignore[no-untyped-def]
        return self.model.config

    @property
    def generation_config(self):  # type: ignore[no-untyped-def]
        return self.model.generation_config

    @torch.inference_mode()
    def encode(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.model.encoder(features).last_hidden_state

    @torch.inference_mode()
    def decode(
        self, ids: torch.Tensor, states: torch.Tensor, cache: Any, logits_from: int = 0
    ) -> tuple[torch.Tensor, Any]:
        out = self.model.model.decoder(
            input_ids=ids, encoder_hidden_states=states, cache=cache, use_cache=True
        )
        hidden = out.last_hidden_state[:, logits_from:]
        return self.model.proj_out(hidden).float(), out.cache

    def reorder(self, cache: Any, rows: Sequence[int]) -> Any:
        index = torch.tensor(list(rows), device=self.model.device)
        cache.self_attention_cache.reorder_cache(index)
        # Every row attends to the same audio: gathering by ``rows`` only resizes it.
        cache.cross_attention_cache.reorder_cache(index)
        return cache

    def crop(self, cache: Any, drop: int) -> Any:
        if drop:
            cache.crop(-drop)
        return cache

    @torch.inference_mode()
    def teacher_forced(
        self, ids: torch.Tensor, states: torch.Tensor, heads: Sequence[tuple[int, int]]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        from voxtune.engine.families.whisper.alignment import record_cross_attention

        with record_cross_attention(self.model, heads) as captured:
            out = self.model.model.decoder(
                input_ids=ids, encoder_hidden_states=states, use_cache=False
            )
            logits = self.model.proj_out(out.last_hidden_state).float()
        if not heads:
            return logits, None
        num_heads = self.model.config.decoder_attention_heads
        scores = []
        for layer, head in heads:
            q, k = captured[(layer, "q_proj")], captured[(layer, "k_proj")]
            head_dim = q.shape[-1] // num_heads
            q_h = q[..., head * head_dim : (head + 1) * head_dim].float()
            k_h = k[..., head * head_dim : (head + 1) * head_dim].float()
            scores.append((q_h @ k_h.transpose(-1, -2)) * head_dim**-0.5)
        return logits, torch.stack(scores, dim=1)


def runner_of(model) -> WhisperRunner:  # type: ignore[no-untyped-def]
    """The runner for ``LoadedModel.model``: an ONNX runner is its own; a transformers
    model is wrapped."""
    if hasattr(model, "teacher_forced"):
        return model
    return TorchRunner(model)
