"""Will a Qwen3-ASR model fit? Its weights' size in a dtype, read from the safetensors headers.

Loading a 1.7B model onto a GPU that lacks the room fails deep inside torch after a long wait;
the headers say the parameter count at once (no weights read, no torch), so the loader can
refuse up front with one line that says how much is needed and how much is free.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from voxtune.engine.errors import ModelError

BYTES_PER_ELEMENT = {"float32": 4, "float16": 2, "bfloat16": 2}
# Weights are most of it, not all: the CUDA context, activations and the KV cache of a batch
# of 30 s chunks come on top.
HEADROOM = 1.2


def parameter_count(folder: Path) -> int:
    """Elements in every tensor of ``folder``'s ``*.safetensors`` files (headers only)."""
    total = 0
    for shard in sorted(folder.glob("*.safetensors")):
        try:
            with open(shard, "rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(length))
        except (OSError, ValueError, struct.error) as exc:
            raise ModelError(f"{shard}: unreadable weights header ({exc})") from exc
        for name, entry in header.items():
            if name != "__metadata__":
                total += math.prod(entry["shape"])
    return total


def weight_bytes(folder: Path, dtype: str) -> int:
    """Memory the weights take once loaded in ``dtype``."""
    return parameter_count(folder) * BYTES_PER_ELEMENT[dtype]


def check_fits(name: str, needed: int, free: int, device: str, dtype: str) -> None:
    """ModelError when ``needed`` bytes of weights (plus headroom) exceed ``free``."""
    if needed * HEADROOM > free:
        raise ModelError(
            f"{name}: does not fit on {device}: needs about {needed * HEADROOM / 1e9:.1f} GB in "
            f"{dtype}, {free / 1e9:.1f} GB free (try bfloat16, a smaller model, or --device cpu)"
        )
