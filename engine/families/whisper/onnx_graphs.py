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
    """Every decoder layer's cross-attention keys and values, one output each, already split
    into heads: keys [B, heads, head_dim, frames] (transposed for ``q @ k``), values
    [B, heads, frames, head_dim].

    One tensor per layer, in the layout the attention reads, because the decoder step reads
    them at every token: a stacked [layers, ...] tensor cost a Split (a copy of all of them)
    and a head transpose per layer per step, 21 of tiny.en's 34 ms per beam-5 step.
    """

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.layers = model.model.decoder.layers
        self.heads = model.config.decoder_attention_heads

    def forward(self, encoder_states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out: list[torch.Tensor] = []
        for layer in self.layers:
            keys = _heads(layer.encoder_attn.k_proj(encoder_states), self.heads)
            out.append(keys.transpose(-1, -2))
        for layer in self.layers:
            out.append(_heads(layer.encoder_attn.v_proj(encoder_states), self.heads))
        return tuple(out)


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, width = x.shape
    return x.reshape(batch, length, heads, width // heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    batch, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_dim)


class DecoderStep(nn.Module):
    """Tokens ``input_ids`` after ``past`` positions: logits at ``logit_positions`` (the
    decoding loop wants only the last one, and the vocabulary MatMul is the step's largest),
    the grown cache, and the raw cross-attention scores (before softmax) of the alignment
    heads, for word times by DTW.

    Inputs after ``input_ids`` and ``logit_positions``: ``self_key_i``/``self_value_i``
    ([B, heads, past, head_dim]) then ``cross_key_i``/``cross_value_i`` (as
    ``CrossKeyValues`` writes them; their batch may be 1 for a beam whose rows all hear the
    same audio: MatMul broadcasts it, so beams never copy it). Outputs: ``logits``, then
    ``new_self_key_i``/``new_self_value_i``, then ``alignment_scores``.

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

    def forward(  # type: ignore[no-untyped-def]
        self, input_ids: torch.Tensor, logit_positions: torch.Tensor, *caches: torch.Tensor
    ):
        decoder = self.decoder
        layers = len(decoder.layers)
        self_keys, self_values = caches[0 : 2 * layers : 2], caches[1 : 2 * layers : 2]
        cross_keys, cross_values = caches[2 * layers :: 2], caches[2 * layers + 1 :: 2]
        past = self_keys[0].shape[2]
        length = input_ids.shape[1]
        positions = torch.arange(length, device=input_ids.device) + past
        x = self.embedding[:, input_ids].permute(1, 2, 0) * self.embed_scale
        x = x + decoder.embed_positions.weight[positions]
        # Query i (at position past + i) sees keys 0 .. past + i.
        key_positions = torch.arange(past + length, device=input_ids.device)
        blocked = key_positions[None, :] > positions[:, None]
        mask = torch.zeros(blocked.shape, dtype=x.dtype).masked_fill(blocked, float("-inf"))
        new_cache, alignment = [], []
        wanted = {
            layer: [h for l_, h in self.alignment_heads if l_ == layer]
            for layer, _ in self.alignment_heads
        }
        for index, layer in enumerate(decoder.layers):
            attention = layer.self_attn
            h = layer.self_attn_layer_norm(x)
            keys = torch.cat([self_keys[index], _heads(attention.k_proj(h), self.heads)], dim=2)
            values = torch.cat([self_values[index], _heads(attention.v_proj(h), self.heads)], dim=2)
            new_cache += [keys, values]
            q = _heads(attention.q_proj(h), self.heads)
            out, _ = self._attend(q, keys.transpose(-1, -2), values, mask)
            x = x + attention.out_proj(out)
            cross = layer.encoder_attn
            h = layer.encoder_attn_layer_norm(x)
            q = _heads(cross.q_proj(h), self.heads)
            out, scores = self._attend_audio(q, cross_keys[index], cross_values[index])
            for head in wanted.get(index, []):
                alignment.append(self._head_scores(scores, head, length))
            x = x + cross.out_proj(out)
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        x = decoder.layer_norm(x.index_select(1, logit_positions))
        logits = x @ self.vocabulary
        return (logits, *new_cache, torch.stack(alignment, 1))

    def _attend_audio(
        self, q: torch.Tensor, keys_t: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-attention of ``q`` [B, H, T, d] to keys/values of batch ``Bc`` (1 or B).

        The rows that share an audio window become rows of one product: [Bc, H, B/Bc * T, d]
        @ [Bc, H, d, frames]. A batched MatMul broadcast over the beams instead reads the
        window's keys once per beam (a matrix-vector product each); this reads them once.
        """
        batch = keys_t.shape[0]
        heads, length, head_dim = q.shape[1], q.shape[2], q.shape[3]
        grouped = q.reshape(batch, -1, heads, length, head_dim).transpose(1, 2)
        grouped = grouped.reshape(batch, heads, -1, head_dim)
        scores = (grouped * (head_dim**-0.5)) @ keys_t
        out = scores.softmax(dim=-1) @ v
        out = out.reshape(batch, heads, -1, length, head_dim).transpose(1, 2)
        return _merge(out.reshape(-1, heads, length, head_dim)), scores

    @staticmethod
    def _head_scores(scores: torch.Tensor, head: int, length: int) -> torch.Tensor:
        """One head's scores [B, T, frames] from ``_attend_audio``'s grouped ones: rows in
        (audio, beam, token) order, so a reshape, not a transpose of every head."""
        return scores[:, head].reshape(-1, length, scores.shape[-1])

    def _attend(
        self, q: torch.Tensor, keys_t: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Heads-split ``q`` [B, H, T, d], keys transposed [B|1, H, d, S], values [B|1, H, S, d]."""
        scores = (q * (q.shape[-1] ** -0.5)) @ keys_t
        weights = (scores if mask is None else scores + mask).softmax(dim=-1)
        return _merge(weights @ v), scores
