"""Backends: what runs a loaded family. A table (``name -> Backend``), each entry in its own
module; ``torch`` (it tunes, and is the reference) and ``onnx`` (an export run by
onnxruntime); the GGUF issue adds ``llamacpp`` and ``whispercpp`` here.
"""

from voxtune.engine.backends.table import BACKENDS, Backend, backend_named

__all__ = ["BACKENDS", "Backend", "backend_named"]
