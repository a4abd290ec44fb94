"""Word error rate with one documented normalisation, and evaluation manifests."""

from voxtune.engine.evaluation.manifest import ManifestRow, read_manifest
from voxtune.engine.evaluation.wer import normalize_text, word_error_rate

__all__ = ["ManifestRow", "normalize_text", "read_manifest", "word_error_rate"]
