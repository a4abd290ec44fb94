"""Export: model folders other engines run (ONNX, GGUF), each verified by the engine that
runs it (``verify``)."""
