"""Export: model folders other engines run (ONNX today), each verified by the engine that
runs it (``verify``)."""
