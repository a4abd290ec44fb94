"""The engine: audio, models, decoding, streaming, jobs, tuning, export.

Only torch-free modules are imported here; heavy modules load on first use.
"""
