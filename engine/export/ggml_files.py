"""whisper.cpp's model file (the legacy "ggml" format), read and written with numpy.

One binary file, little-endian, laid out as whisper.cpp's ``whisper_model_load`` reads it:

* ``0x67676d6c`` ("ggml"), then eleven int32 hyper-parameters (``WhisperHparams``);
* the mel filter bank: int32 ``n_mel``, int32 ``n_fft``, then ``n_mel * n_fft`` float32;
* the vocabulary: int32 count, then per token a uint32 length and its bytes (token ``i`` is
  the ``i``-th; whisper.cpp names the special tokens after the last one itself);
* tensors to the end of the file: int32 ``n_dims``, int32 name length, int32 ggml type,
  ``n_dims`` int32 sizes innermost first, the name, then the data in that type's layout.

whisper.cpp checks every tensor's byte size against the type it expects for that name (its
``wtype`` for the large matrices, f16 for the convolutions, f32 for the rest), so a writer
chooses each tensor's type by the same rule (``families/whisper/ggml_export.py``).

Torch-free and light: the model registry asks ``is_ggml_file`` of every path it is given.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from voxtune.engine.errors import ModelError

MAGIC = 0x67676D6C
GGML_SOURCE = "ggml"  # ModelInfo.source of a ggml file: only the whispercpp backend runs it
REPORT_SUFFIX = ".export-report.json"  # beside FILE: FILE.export-report.json

# ggml's tensor types (enum ggml_type) that a whisper.cpp file uses.
F32, F16, Q5_0, Q8_0 = 0, 1, 6, 8
TYPE_NAMES = {F32: "f32", F16: "f16", Q5_0: "q5_0", Q8_0: "q8_0"}
# (elements per block, bytes per block), as ggml's type traits say.
BLOCKS = {F32: (1, 4), F16: (1, 2), Q5_0: (32, 22), Q8_0: (32, 34)}

# A quantisation name -> (the file's ftype, the ggml type of its large matrices). Quantised
# files carry ggml's quantisation version in the ftype (2 * 1000 + ftype), as whisper.cpp's
# own quantize tool writes them; the loader takes ftype % 1000.
QUANTISATIONS = {"f32": (0, F32), "f16": (1, F16), "q8_0": (2007, Q8_0), "q5_0": (2008, Q5_0)}
_QUANTISATION_OF_FTYPE = {ftype % 1000: name for name, (ftype, _) in QUANTISATIONS.items()}
MULTILINGUAL_VOCAB = 51865  # whisper.cpp: a vocabulary this large is multilingual
HPARAM_NAMES = (
    "n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
    "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels", "ftype",
)  # fmt: skip


@dataclass(frozen=True)
class WhisperHparams:
    n_vocab: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
    n_mels: int
    ftype: int

    @property
    def multilingual(self) -> bool:
        return self.n_vocab >= MULTILINGUAL_VOCAB

    @property
    def languages(self) -> tuple[str, ...]:
        """Whisper's language codes in token order, as many as the vocabulary holds."""
        from voxtune.engine.languages import LANGUAGE_NAMES

        if not self.multilingual:
            return ("en",)
        count = self.n_vocab - 51765 - 1  # whisper.cpp's num_languages()
        return tuple(LANGUAGE_NAMES)[:count]

    @property
    def quantisation(self) -> str:
        return _QUANTISATION_OF_FTYPE.get(self.ftype % 1000, f"ftype {self.ftype}")

    @property
    def tensor_count(self) -> int:
        """How many tensors whisper.cpp loads for these sizes (it refuses fewer)."""
        return 11 + 15 * self.n_audio_layer + 24 * self.n_text_layer

    def values(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in HPARAM_NAMES)


@dataclass(frozen=True)
class GgmlTensor:
    name: str
    shape: tuple[int, ...]  # numpy order (outermost first); the file stores it reversed
    type: int  # ggml type
    offset: int  # of the data in the file
    nbytes: int


@dataclass(frozen=True)
class GgmlFile:
    path: Path
    hparams: WhisperHparams
    mel_filters: np.ndarray  # [n_mel, n_fft] float32
    vocabulary: tuple[bytes, ...]  # token i's bytes, the ordinary tokens only
    tensors: tuple[GgmlTensor, ...]

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def tensor_nbytes(shape: Iterable[int], ggml_type: int) -> int:
    """Bytes of a tensor of ``shape`` stored as ``ggml_type`` (rows whole blocks)."""
    dims = tuple(shape)
    if ggml_type not in BLOCKS:
        raise ValueError(f"ggml type {ggml_type} is not one whisper.cpp files use")
    block, size = BLOCKS[ggml_type]
    count = int(np.prod(dims)) if dims else 1
    if dims and dims[-1] % block:
        raise ValueError(f"rows of {dims[-1]} do not split into blocks of {block}")
    return count // block * size


def is_ggml_file(path: Path) -> bool:
    """Whether ``path`` is a file that starts like a whisper.cpp model (the magic only)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return len(head) == 4 and struct.unpack("<I", head)[0] == MAGIC


def read_ggml(path: Path) -> GgmlFile:
    """Header, filters, vocabulary and the directory of tensors (data not loaded);
    ModelError naming the file and the first thing wrong with it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            return _read(handle, path, size)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _read(handle: IO[bytes], path: Path, size: int) -> GgmlFile:
    def ints(count: int, what: str) -> tuple[int, ...]:
        data = handle.read(4 * count)
        if len(data) != 4 * count:
            raise ModelError(f"{path}: truncated whisper.cpp model (ends in the {what})")
        return struct.unpack(f"<{count}i", data)

    if handle.read(4) != struct.pack("<I", MAGIC):
        raise ModelError(f"{path}: not a whisper.cpp ggml model (bad magic)")
    hparams = WhisperHparams(*ints(len(HPARAM_NAMES), "hyper-parameters"))
    if min(hparams.values()[:-1]) <= 0 or hparams.ftype % 1000 not in _QUANTISATION_OF_FTYPE:
        raise ModelError(f"{path}: corrupt whisper.cpp model (hyper-parameters {hparams})")
    n_mel, n_fft = ints(2, "mel filters")
    if n_mel != hparams.n_mels or not 0 < n_fft <= 4096:
        raise ModelError(f"{path}: corrupt whisper.cpp model (mel filters {n_mel}x{n_fft})")
    filters = np.frombuffer(handle.read(4 * n_mel * n_fft), dtype="<f4")
    if filters.size != n_mel * n_fft:
        raise ModelError(f"{path}: truncated whisper.cpp model (ends in the mel filters)")
    (count,) = ints(1, "vocabulary")
    if not 0 <= count <= hparams.n_vocab:
        raise ModelError(f"{path}: corrupt whisper.cpp model ({count} tokens)")
    vocabulary = []
    for _ in range(count):
        (length,) = ints(1, "vocabulary")
        token = handle.read(length)
        if length < 0 or len(token) != length:
            raise ModelError(f"{path}: truncated whisper.cpp model (ends in the vocabulary)")
        vocabulary.append(token)
    tensors = []
    while True:
        head = handle.read(12)
        if not head:
            break
        if len(head) != 12:
            raise ModelError(f"{path}: truncated whisper.cpp model (a tensor header)")
        n_dims, length, ggml_type = struct.unpack("<3i", head)
        if not 1 <= n_dims <= 4 or not 0 < length < 256 or ggml_type not in BLOCKS:
            raise ModelError(f"{path}: corrupt whisper.cpp model (tensor {len(tensors)})")
        dims = ints(n_dims, "a tensor header")
        name = handle.read(length).decode("utf-8", errors="replace")
        shape = tuple(reversed(dims))
        try:
            nbytes = tensor_nbytes(shape, ggml_type)
        except ValueError as exc:
            raise ModelError(f"{path}: corrupt whisper.cpp model ({name}: {exc})") from exc
        offset = handle.tell()
        if offset + nbytes > size:
            raise ModelError(f"{path}: truncated whisper.cpp model (tensor {name} cut short)")
        tensors.append(GgmlTensor(name, shape, ggml_type, offset, nbytes))
        handle.seek(nbytes, 1)
    if len(tensors) != hparams.tensor_count:
        raise ModelError(
            f"{path}: incomplete whisper.cpp model ({len(tensors)} of "
            f"{hparams.tensor_count} tensors)"
        )
    return GgmlFile(
        path=path,
        hparams=hparams,
        mel_filters=filters.reshape(n_mel, n_fft).copy(),
        vocabulary=tuple(vocabulary),
        tensors=tuple(tensors),
    )


def read_tensor(file: GgmlFile, name: str) -> np.ndarray:
    """One tensor as float32 (quantised blocks expanded with gguf's reference code)."""
    [tensor] = [t for t in file.tensors if t.name == name]
    with open(file.path, "rb") as handle:
        handle.seek(tensor.offset)
        data = handle.read(tensor.nbytes)
    if tensor.type == F32:
        return np.frombuffer(data, dtype="<f4").reshape(tensor.shape).copy()
    if tensor.type == F16:
        return np.frombuffer(data, dtype="<f2").astype(np.float32).reshape(tensor.shape)
    from gguf import GGMLQuantizationType, quants

    blocks = np.frombuffer(data, dtype=np.uint8).reshape(*tensor.shape[:-1], -1)
    return quants.dequantize(blocks, GGMLQuantizationType(tensor.type)).astype(np.float32)


class GgmlWriter:
    """Writes the layout above to an open binary file, section by section, in order."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.tensor_count = 0

    def header(self, hparams: WhisperHparams) -> None:
        self.handle.write(struct.pack("<I", MAGIC))
        self.handle.write(struct.pack(f"<{len(HPARAM_NAMES)}i", *hparams.values()))

    def mel_filters(self, filters: np.ndarray) -> None:
        n_mel, n_fft = filters.shape
        self.handle.write(struct.pack("<2i", n_mel, n_fft))
        self.handle.write(np.ascontiguousarray(filters, dtype="<f4").tobytes())

    def vocabulary(self, tokens: Iterable[bytes]) -> None:
        tokens = list(tokens)
        self.handle.write(struct.pack("<i", len(tokens)))
        for token in tokens:
            self.handle.write(struct.pack("<I", len(token)))
            self.handle.write(token)

    def tensor(self, name: str, data: np.ndarray, ggml_type: int) -> int:
        """``data`` (float32, numpy order) stored as ``ggml_type``; returns the bytes written."""
        encoded = encode(data, ggml_type)
        raw = name.encode("utf-8")
        self.handle.write(struct.pack("<3i", data.ndim, len(raw), ggml_type))
        self.handle.write(struct.pack(f"<{data.ndim}i", *reversed(data.shape)))
        self.handle.write(raw)
        self.handle.write(encoded)
        self.tensor_count += 1
        return len(encoded)


def encode(data: np.ndarray, ggml_type: int) -> bytes:
    """``data``'s bytes in ggml's layout for ``ggml_type``. The quantised blocks come from
    gguf's Python port of ggml's reference quantisers, whose block layout (an f16 scale,
    then the packed quants) is ggml's own: the same bytes a legacy ggml file holds."""
    if ggml_type == F32:
        return np.ascontiguousarray(data, dtype="<f4").tobytes()
    if ggml_type == F16:
        return np.ascontiguousarray(data, dtype="<f2").tobytes()
    from gguf import GGMLQuantizationType, quants

    tensor_nbytes(data.shape, ggml_type)  # ValueError for rows that are not whole blocks
    blocks = quants.quantize(np.ascontiguousarray(data, dtype=np.float32),
                             GGMLQuantizationType(ggml_type))  # fmt: skip
    return blocks.tobytes()


def ggml_model_info(path: Path, name: str | None = None):  # type: ignore[no-untyped-def]
    """A ggml file as a model: Whisper, its languages from the vocabulary's size."""
    from voxtune.engine.models.info import ModelInfo

    file = read_ggml(path)
    return ModelInfo(
        name=name or path.stem,
        family="whisper",  # whisper.cpp's format holds nothing else
        languages=file.hparams.languages,
        size_bytes=file.size,
        location=path,
        source=GGML_SOURCE,
    )


def report_path(model_file: Path) -> Path:
    return model_file.with_name(model_file.name + REPORT_SUFFIX)
