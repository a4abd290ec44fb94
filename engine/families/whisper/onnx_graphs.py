"""Whisper as three exportable torch modules: encoder, cross-attention keys/values, and one
decoder step with a self-attention cache.

The decoder step is written out layer by layer (with the model's own weights and modules)
rather than traced through transformers' cache classes: its inputs and outputs are then plain
tensors that any onnxruntime caller can feed, and the cross-attention keys/values are computed
once per window (``CrossKeyValues``) instead of once per token.
"""

from __future__ import annotations

import torch
from torch import nn


class EncoderGraph(nn.Module):
    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.encoder = model.model.encoder

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_features).last_hidden_state


class CrossKeyValues(nn.Module):
    """Every decoder layer's cross-attention keys and values, stacked: [layers, B, S, D]."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.layers = model.model.decoder.layers

    def forward(self, encoder_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keys = [layer.encoder_attn.k_proj(encoder_states) for layer in self.layers]
        values = [layer.encoder_attn.v_proj(encoder_states) for layer in self.layers]
        return torch.stack(keys), torch.stack(values)


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, width = x.shape
    return x.reshape(batch, length, heads, width // heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    batch, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_dim)


class DecoderStep(nn.Module):
    """Tokens ``input_ids`` after ``past`` positions: logits, the grown cache, and the raw
    cross-attention scores (before softmax) of the alignment heads, for word times by DTW.

    Scores rather than weights: the caller normalises over the window's real frames only, as
    the torch path does, so both give the same times.
    """

    def __init__(self, model, alignment_heads: list[tuple[int, int]]) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        decoder = model.model.decoder
        self.decoder = decoder
        self.heads = model.config.decoder_attention_heads
        self.embed_scale = float(getattr(decoder, "embed_scale", 1.0))
        self.alignment_heads = alignment_heads
        # Whisper ties its output projection to the token embeddings. One [width, vocab]
        # matrix serves both (a column lookup, and the logits' MatMul), so the graph holds
        # it once: tiny.en's decoder is 80 MB smaller than with the two traced copies.
        self.vocabulary = nn.Parameter(model.proj_out.weight.detach().t().contiguous())
        self.embedding = self.vocabulary
        if not torch.equal(model.proj_out.weight, decoder.embed_tokens.weight):  # untied tune
            self.embedding = nn.Parameter(decoder.embed_tokens.weight.detach().t().contiguous())

    def forward(
        self,
        input_ids: torch.Tensor,
        self_keys: torch.Tensor,
        self_values: torch.Tensor,
        cross_keys: torch.Tensor,
        cross_values: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        decoder = self.decoder
        past = self_keys.shape[2]
        length = input_ids.shape[1]
        positions = torch.arange(length, device=input_ids.device) + past
        x = self.embedding[:, input_ids].permute(1, 2, 0) * self.embed_scale
        x = x + decoder.embed_positions.weight[positions]
        # Query i (at position past + i) sees keys 0 .. past + i.
        key_positions = torch.arange(past + length, device=input_ids.device)
        blocked = key_positions[None, :] > positions[:, None]
        mask = torch.zeros(blocked.shape, dtype=x.dtype).masked_fill(blocked, float("-inf"))
        new_keys, new_values, alignment = [], [], []
        wanted = {
            layer: [h for l_, h in self.alignment_heads if l_ == layer]
            for layer, _ in self.alignment_heads
        }
        for index, layer in enumerate(decoder.layers):
            attention = layer.self_attn
            h = layer.self_attn_layer_norm(x)
            keys = torch.cat([self_keys[index], attention.k_proj(h)], dim=1)
            values = torch.cat([self_values[index], attention.v_proj(h)], dim=1)
            new_keys.append(keys)
            new_values.append(values)
            x = x + attention.out_proj(self._attend(attention.q_proj(h), keys, values, mask)[0])
            cross = layer.encoder_attn
            h = layer.encoder_attn_layer_norm(x)
            out, scores = self._attend(
                cross.q_proj(h), cross_keys[index], cross_values[index], None
            )
            for head in wanted.get(index, []):
                alignment.append(scores[:, head])
            x = x + cross.out_proj(out)
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        x = decoder.layer_norm(x)
        logits = x @ self.vocabulary
        return logits, torch.stack(new_keys), torch.stack(new_values), torch.stack(alignment, 1)

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        q, k, v = _heads(q, self.heads), _heads(k, self.heads), _heads(v, self.heads)
        scores = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
        weights = (scores if mask is None else scores + mask).softmax(dim=-1)
        return _merge(weights @ v), scores
