"""Qwen3-ASR as two exportable torch modules: the audio encoder with its projector (one audio
item per call) and one step of the text decoder with a key/value cache.

Both are written out with the model's own weights and modules rather than traced through
transformers' forward: the encoder's windowed attention there splits a packed sequence by
``cu_seqlens`` in Python (a trace would freeze the split sizes), and the decoder's cache
classes and mask builders are not plain tensors. Here every input and output is a plain tensor
any onnxruntime caller can feed, with dynamic lengths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _post_cnn_length(lengths: torch.Tensor) -> torch.Tensor:
    """Frames left after the encoder's three (kernel 3, stride 2, padding 1) convolutions."""
    for _ in range(3):
        lengths = torch.where(lengths > 0, (lengths - 1) // 2 + 1, torch.zeros_like(lengths))
    return lengths


class AudioEncoderGraph(nn.Module):
    """Log-mel features of one item, right-padded to whole chunks, and its real frame count in;
    the projected audio embeddings out, one row per ``<|audio_pad|>`` token of its prompt.

    As in transformers: features are cut into chunks of ``2 * n_window`` frames, each
    convolved and given positions on its own; the real frames of all chunks form one sequence,
    whose attention is restricted to consecutive windows of ``n_window_infer`` frames (an
    additive block mask here instead of a Python split).
    """

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.encoder = model.model.audio_tower
        self.projector = model.model.multi_modal_projector
        config = self.encoder.config
        self.chunk = 2 * config.n_window
        self.heads = config.encoder_attention_heads
        per_chunk = int(_post_cnn_length(torch.tensor(self.chunk)))
        self.window = per_chunk * (config.n_window_infer // self.chunk)

    def forward(self, input_features: torch.Tensor, feature_length: torch.Tensor) -> torch.Tensor:
        encoder = self.encoder
        _, bins, frames = input_features.shape
        chunks = frames // self.chunk
        pieces = input_features[0].reshape(bins, chunks, self.chunk).permute(1, 0, 2).unsqueeze(1)
        x = F.gelu(encoder.conv2d1(pieces))
        x = F.gelu(encoder.conv2d2(x))
        x = F.gelu(encoder.conv2d3(x))
        count, channels, height, steps = x.shape
        x = encoder.conv_out(x.permute(0, 3, 1, 2).reshape(count, steps, channels * height))
        x = x + encoder.positional_embedding.positional_embedding[:steps]
        starts = torch.arange(chunks, device=x.device) * self.chunk
        real = (feature_length.reshape(1) - starts).clamp(0, self.chunk)
        valid = torch.arange(steps, device=x.device)[None, :] < _post_cnn_length(real)[:, None]
        x = x.reshape(count * steps, -1)[valid.reshape(-1).nonzero()[:, 0]]
        window = torch.arange(x.shape[0], device=x.device) // self.window
        blocked = window[:, None] != window[None, :]
        mask = torch.zeros(blocked.shape, dtype=x.dtype).masked_fill(blocked, float("-inf"))
        for layer in encoder.layers:
            h = layer.self_attn_layer_norm(x)
            x = x + self._attend(layer.self_attn, h, mask)
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        return self.projector(encoder.ln_post(x))

    def _attend(self, attention, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
        length = h.shape[0]

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(length, self.heads, -1).transpose(0, 1)

        q, k, v = heads(attention.q_proj(h)), heads(attention.k_proj(h)), heads(attention.v_proj(h))
        scores = (q @ k.transpose(-1, -2)) * attention.scaling + mask
        out = scores.softmax(dim=-1) @ v
        return attention.out_proj(out.transpose(0, 1).reshape(length, -1))


class DecoderStep(nn.Module):
    """Tokens ``input_ids`` after ``past`` cached positions: the next-token logits of each row's
    last position, and every layer's grown cache (``present.{i}.key`` / ``.value``).

    ``attention_mask`` covers past and new positions (0: left padding), ``position_ids`` are
    the new tokens' rotary positions (as ``generate`` computes them: real tokens counted).
    ``audio_features`` (the encoder's rows of every item in the batch, in order) replace the
    ``<|audio_pad|>`` tokens of ``input_ids``; steps after the prompt pass zero rows.
    """

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        text = model.model.language_model
        self.text = text
        config = text.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", config.hidden_size // self.heads)
        self.audio_token = int(model.config.audio_token_id)
        # Tied output projection and token embeddings: one [hidden, vocab] matrix serves both
        # (a column lookup, and the logits' MatMul), so the graph holds it once.
        self.vocabulary = nn.Parameter(model.lm_head.weight.detach().t().contiguous())
        self.embedding = self.vocabulary
        if not torch.equal(model.lm_head.weight, text.embed_tokens.weight):
            self.embedding = nn.Parameter(text.embed_tokens.weight.detach().t().contiguous())

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        audio_features: torch.Tensor,
        *past: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        text = self.text
        batch, length = input_ids.shape
        x = self.embedding[:, input_ids].permute(1, 2, 0)
        # The k-th audio token of the batch (row-major, as ``masked_scatter`` fills) takes the
        # k-th audio row; row 0 of the padded table is never read for other tokens.
        is_audio = input_ids == self.audio_token
        index = is_audio.reshape(-1).long().cumsum(0).reshape(batch, length) * is_audio.long()
        table = torch.cat([audio_features.new_zeros(1, audio_features.shape[1]), audio_features])
        x = torch.where(is_audio[..., None], table[index].to(x.dtype), x)
        cos, sin = text.rotary_emb(x, position_ids)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        cached = past[0].shape[2]
        keys_at = torch.arange(cached + length, device=x.device)
        queries_at = torch.arange(length, device=x.device) + cached
        blocked = (keys_at[None, :] > queries_at[:, None])[None, None] | (
            attention_mask[:, None, None, :] == 0
        )
        # The dtype's lowest value, not -inf: a left-padding query sees no key at all, and
        # -inf would make its row (and through the values, later rows) NaN.
        mask = torch.zeros(blocked.shape, dtype=x.dtype).masked_fill(
            blocked, torch.finfo(x.dtype).min
        )
        presents: list[torch.Tensor] = []
        for index_, layer in enumerate(text.layers):
            attention = layer.self_attn
            h = layer.input_layernorm(x)
            q = attention.q_norm(attention.q_proj(h).reshape(batch, length, -1, self.head_dim))
            k = attention.k_norm(attention.k_proj(h).reshape(batch, length, -1, self.head_dim))
            v = attention.v_proj(h).reshape(batch, length, -1, self.head_dim).transpose(1, 2)
            q, k = q.transpose(1, 2), k.transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            k = torch.cat([past[2 * index_], k], dim=2)
            v = torch.cat([past[2 * index_ + 1], v], dim=2)
            presents += [k, v]
            k_all, v_all = self._shared(k), self._shared(v)
            scores = (q @ k_all.transpose(-1, -2)) * attention.scaling + mask
            out = (scores.softmax(dim=-1) @ v_all).transpose(1, 2).reshape(batch, length, -1)
            x = x + attention.o_proj(out)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        last = text.norm(x[:, -1])
        return (last @ self.vocabulary, *presents)

    def _shared(self, t: torch.Tensor) -> torch.Tensor:
        """Grouped-query attention: each key/value head serves ``heads / kv_heads`` query
        heads in a row (transformers' ``repeat_kv``)."""
        groups = self.heads // self.kv_heads
        if groups == 1:
            return t
        batch, kv_heads, length, head_dim = t.shape
        t = t[:, :, None].expand(batch, kv_heads, groups, length, head_dim)
        return t.reshape(batch, kv_heads * groups, length, head_dim)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
