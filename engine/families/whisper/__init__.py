"""Whisper (any size, any fine-tune): decoding, word timing, streaming, tuning."""
