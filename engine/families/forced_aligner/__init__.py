"""Qwen3-ForcedAligner: times the words of a Qwen3-ASR transcript; never transcribes."""
