"""Backends: what runs a loaded family. A table (``name -> Backend``), each entry in its own
module; ``torch`` is the one today (it tunes, and is the reference). The ONNX and GGUF
issues add ``onnx``, ``llamacpp`` and ``whispercpp`` here.
"""

from voxtune.engine.backends.table import BACKENDS, Backend, backend_named

__all__ = ["BACKENDS", "Backend", "backend_named"]
