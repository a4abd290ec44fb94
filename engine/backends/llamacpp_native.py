"""Load llama.cpp's libraries from the ``llama-cpp-py-sync`` wheel, on older glibc too.

The wheel's libraries (every release, checked back to 0.8771) are built against glibc 2.38:
the only symbols they take from it are C23's ``__isoc23_strtol``/``strtoul``/``strtoull``/
``sscanf``, which differ from the C99 ones only in reading ``0b`` binary literals. On a
system with glibc 2.36 (Debian 12) the wheel does not load at all ("version `GLIBC_2.38'
not found"). Without a compiler, a copy of the libraries is patched in place of the link
records, no code: those imports name the C99 functions (the same string table, past the
``__isoc23_`` prefix), carry no version, and the GLIBC_2.38 requirement is marked weak.
The copy lives in Voxtune's home, per wheel version; systems with glibc >= 2.38 load the
wheel untouched.
"""

from __future__ import annotations

import shutil
import struct
import threading
from pathlib import Path

from voxtune.engine.errors import ModelError

C23_PREFIX = b"__isoc23_"
MISSING_VERSION = b"GLIBC_2.38"
_SHT_DYNSYM, _SHT_VERNEED, _SHT_VERSYM = 11, 0x6FFFFFFE, 0x6FFFFFFF
_VER_FLG_WEAK = 0x2
_lock = threading.Lock()


def load_llamacpp() -> None:
    """Make ``llama_cpp_py_sync``'s bindings usable; ModelError saying why when they are not."""
    with _lock:
        try:
            from llama_cpp_py_sync import _cffi_bindings as bindings
        except ImportError as exc:
            raise ModelError(
                f"the llamacpp backend needs llama-cpp-py-sync (pip install "
                f"llama-cpp-py-sync): {exc}"
            ) from exc
        if bindings._mtmd_lib is not None:
            return
        try:
            bindings.get_mtmd_lib()
            return
        except RuntimeError as exc:
            if MISSING_VERSION.decode() not in str(exc):
                raise ModelError(f"llama.cpp's libraries do not load: {exc}") from exc
        folder = _patched_copy(Path(bindings.__file__).parent)
        ffi = bindings.get_ffi()
        for name in ("ggml-base", "ggml", "ggml-rpc"):
            bindings._ggml_libraries[name] = ffi.dlopen(str(folder / f"lib{name}.so.0"))
        bindings._lib = ffi.dlopen(str(folder / "libllama.so"))
        bindings._mtmd_lib = ffi.dlopen(str(folder / "libmtmd.so"))


def _patched_copy(package: Path) -> Path:
    from importlib.metadata import version

    from voxtune.engine.home import home

    target = home() / "native" / f"llama-cpp-py-sync-{version('llama-cpp-py-sync')}"
    if (target / "libmtmd.so").is_file():
        return target
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for library in sorted(package.glob("lib*.so*")):
        data = bytearray(library.read_bytes())
        patch_c23_imports(data, library.name)
        (staging / library.name).write_bytes(bytes(data))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def patch_c23_imports(data: bytearray, name: str) -> int:
    """Patch one ELF64 little-endian library in memory; returns how many imports changed.
    ModelError when it needs anything else from glibc 2.38 (then no patch can help)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ModelError(f"{name}: not a 64-bit little-endian ELF library")
    sections = _sections(data)
    dynsym = next((s for s in sections if s[0] == _SHT_DYNSYM), None)
    versym = next((s for s in sections if s[0] == _SHT_VERSYM), None)
    verneed = next((s for s in sections if s[0] == _SHT_VERNEED), None)
    if dynsym is None or versym is None or verneed is None:
        return 0
    dynstr = sections[dynsym[3]]
    wanted = _weaken_requirement(data, verneed, dynstr[1])
    if wanted is None:
        return 0
    changed = 0
    _, offset, size, _ = dynsym
    for index in range(size // 24):
        entry = offset + 24 * index
        name_offset, _, _, shndx = struct.unpack_from("<IBBH", data, entry)
        version_at = versym[1] + 2 * index
        if struct.unpack_from("<H", data, version_at)[0] & 0x7FFF != wanted:
            continue
        symbol = _string(data, dynstr[1] + name_offset)
        if shndx != 0 or not symbol.startswith(C23_PREFIX):
            raise ModelError(
                f"{name}: needs {symbol.decode()} from {MISSING_VERSION.decode()}, which this "
                "system's C library lacks (a newer Linux runs the llamacpp backend)"
            )
        struct.pack_into("<I", data, entry, name_offset + len(C23_PREFIX))  # "strtol", C99
        struct.pack_into("<H", data, version_at, 1)  # unversioned: the default strtol
        changed += 1
    return changed


def _sections(data: bytearray) -> list[tuple[int, int, int, int]]:
    """(type, offset, size, link) of every section header."""
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    entsize, count = struct.unpack_from("<HH", data, 0x3A)
    out = []
    for index in range(count):
        header = struct.unpack_from("<IIQQQQI", data, shoff + index * entsize)
        _, kind, _, _, offset, size, link = header
        out.append((kind, offset, size, link))
    return out


def _weaken_requirement(
    data: bytearray, verneed: tuple[int, int, int, int], strings: int
) -> int | None:
    """Mark the GLIBC_2.38 requirement weak; its version index, or None when there is none."""
    _, offset, _, _ = verneed
    need = offset
    while True:
        _, count, _, aux, following = struct.unpack_from("<HHIII", data, need)
        entry = need + aux
        for _ in range(count):
            _, flags, other, name, step = struct.unpack_from("<IHHII", data, entry)
            if _string(data, strings + name) == MISSING_VERSION:
                struct.pack_into("<H", data, entry + 4, flags | _VER_FLG_WEAK)
                return other
            entry += step
        if not following:
            return None
        need += following


def _string(data: bytearray, offset: int) -> bytes:
    return bytes(data[offset : data.index(0, offset)])
