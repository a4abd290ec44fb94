"""Qwen3-ASR: layout, loading, chunked decoding, streaming, tuning."""
