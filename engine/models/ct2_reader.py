"""Read a CTranslate2 ``model.bin`` into named tensors.

The format (little-endian) is described in ``shared/FACTS.md``: a header, the variables (name,
shape, dtype, raw bytes) and the aliases (tied weights). The file is read sequentially, so a
model split across several files (``model.bin.part1`` + ``part2``) streams through without
ever being joined on disk or in memory.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import torch

from voxtune.engine.errors import ModelError

SUPPORTED_VERSIONS = range(1, 7)

# CTranslate2 dtype codes; bf16 has no numpy type, so it is read as raw 16-bit words.
_DTYPES: dict[int, tuple[np.dtype, torch.dtype]] = {
    0: (np.dtype("<f4"), torch.float32),
    1: (np.dtype("i1"), torch.int8),
    2: (np.dtype("<i2"), torch.int16),
    3: (np.dtype("<i4"), torch.int32),
    4: (np.dtype("<f2"), torch.float16),
    5: (np.dtype("<i2"), torch.bfloat16),
}


@dataclass
class CT2Model:
    """Everything ``model.bin`` holds: rank-0 options apart from the weight tensors."""

    spec: str
    revision: int
    weights: dict[str, torch.Tensor] = field(default_factory=dict)
    options: dict[str, int | float] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def tensor(self, name: str) -> torch.Tensor:
        name = self.aliases.get(name, name)
        if name not in self.weights:
            raise KeyError(name)
        return self.weights[name]


class _SequentialReader:
    """Reads exact byte counts from a chain of files, as if they were one."""

    def __init__(self, handles: list[IO[bytes]], label: str) -> None:
        self._handles = iter(handles)
        self._current: IO[bytes] | None = next(self._handles, None)
        self.label = label
        self.offset = 0

    def read(self, count: int) -> bytes:
        chunks: list[bytes] = []
        wanted = count
        while wanted and self._current is not None:
            chunk = self._current.read(wanted)
            if not chunk:
                self._current = next(self._handles, None)
                continue
            chunks.append(chunk)
            wanted -= len(chunk)
        data = b"".join(chunks)
        if len(data) != count:
            raise self._truncated(self.offset + len(data))
        self.offset += count
        return data

    def readinto(self, buffer: memoryview) -> None:
        filled = 0
        while filled < len(buffer) and self._current is not None:
            got = self._current.readinto(buffer[filled:])  # type: ignore[attr-defined]
            if not got:
                self._current = next(self._handles, None)
                continue
            filled += got
        if filled != len(buffer):
            raise self._truncated(self.offset + filled)
        self.offset += filled

    def _truncated(self, end: int) -> ModelError:
        return ModelError(f"{self.label}: truncated CTranslate2 model (ends at byte {end})")

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack("<" + fmt, self.read(struct.calcsize(fmt)))
        return value

    def name(self) -> str:
        raw = self.read(self.unpack("H"))
        try:
            return raw.rstrip(b"\0").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelError(f"{self.label}: corrupt CTranslate2 model (bad name bytes)") from exc

    def at_end(self) -> bool:
        while self._current is not None:
            if self._current.read(1):
                return False
            self._current = next(self._handles, None)
        return True


def read_ct2_model(parts: Path | Iterable[Path]) -> CT2Model:
    """Parse ``model.bin`` (or its parts, in order); ModelError names the file on any damage."""
    paths = [parts] if isinstance(parts, Path) else list(parts)
    label = str(paths[0]) if len(paths) == 1 else " + ".join(str(p) for p in paths)
    with ExitStack() as stack:
        try:
            handles = [stack.enter_context(open(p, "rb")) for p in paths]
        except OSError as exc:
            raise ModelError(f"{exc.filename}: cannot read ({exc.strerror})") from exc
        return _parse(_SequentialReader(handles, label))


def _parse(reader: _SequentialReader) -> CT2Model:
    version = reader.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(
            f"{reader.label}: not a CTranslate2 model (format version {version} is unknown)"
        )
    spec = reader.name() if version >= 2 else ""
    revision = reader.unpack("I") if version >= 2 else 1
    model = CT2Model(spec=spec, revision=revision)
    for name, value in _variables(reader):
        if value.dim() == 0:
            model.options[name] = value.item()
        else:
            model.weights[name] = value
    if version >= 3:
        for _ in range(reader.unpack("I")):
            alias, target = reader.name(), reader.name()
            model.aliases[alias] = target
    if not reader.at_end():
        raise ModelError(f"{reader.label}: corrupt CTranslate2 model (data after the last entry)")
    return model


def _variables(reader: _SequentialReader) -> Iterator[tuple[str, torch.Tensor]]:
    for _ in range(reader.unpack("I")):
        name = reader.name()
        shape = [reader.unpack("I") for _ in range(reader.unpack("B"))]
        code = reader.unpack("B")
        if code not in _DTYPES:
            raise ModelError(f"{reader.label}: corrupt CTranslate2 model ({name}: dtype {code})")
        np_dtype, torch_dtype = _DTYPES[code]
        size = reader.unpack("I")
        count = int(np.prod(shape)) if shape else 1
        if size != count * np_dtype.itemsize:
            raise ModelError(
                f"{reader.label}: corrupt CTranslate2 model ({name}: {size} bytes for {shape})"
            )
        array = np.empty(count, dtype=np_dtype)
        reader.readinto(memoryview(array).cast("B"))
        tensor = torch.from_numpy(array).reshape(shape)
        yield name, tensor.view(torch_dtype) if torch_dtype == torch.bfloat16 else tensor
