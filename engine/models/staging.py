"""Model folders built beside their place and renamed into it: a failed or interrupted import
leaves nothing under the models folder (no empty or half-written model)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from voxtune.engine.models.manifest import MANIFEST


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A fresh hidden folder beside ``target`` to write the model into; when the block ends
    without an error it becomes ``target`` (replacing an older one), otherwise it is removed.
    Hidden names (``.NAME.importing-…``) are skipped by the model listing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.importing-", dir=target.parent))
    try:
        yield staging
        finalise_files(staging)
        install_folder(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def finalise_files(directory: Path) -> None:
    """Flush to disk and give the usual permissions (mkdtemp made the folder private)."""
    umask = os.umask(0)
    os.umask(umask)
    for root, folders, files in os.walk(directory):
        for name in files:
            path = Path(root) / name
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
            path.chmod(0o666 & ~umask)
        for name in folders:
            (Path(root) / name).chmod(0o777 & ~umask)
    directory.chmod(0o777 & ~umask)


def install_folder(staging: Path, target: Path) -> None:
    """Rename the finished folder into place, replacing an older import of the same name."""
    if target.exists():
        retired = target.with_name(f".{target.name}.retired-{uuid.uuid4().hex[:8]}")
        os.replace(target, retired)
        try:
            os.replace(staging, target)
        finally:
            shutil.rmtree(retired, ignore_errors=True)
        return
    try:
        os.rename(staging, target)
    except OSError:
        # Another process finished the same import first; its folder is as good as ours.
        if not (target / MANIFEST).is_file():
            raise
