"""Evaluation manifests: the rows ``voxtune eval`` scores, read as ``voxtune finetune`` reads
its data (``voxtune.engine.tune.datasets``), so one file serves both.

A TSV or CSV with a header naming an audio column (``path``, ``audio``, …) and a text column
(``reference``, ``text``, …) and optionally ``language``, as in ``../shared/data/dev.tsv``; or
two columns without a header (``path<TAB>reference``); or JSONL, or a folder of audio with
same-named ``.txt`` transcripts. Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.datasets import read_dataset


@dataclass(frozen=True)
class ManifestRow:
    audio: Path
    reference: str
    language: str | None = None


def read_manifest(path: str | Path) -> list[ManifestRow]:
    manifest = Path(path)
    if not manifest.exists():
        raise VoxtuneError(f"{manifest}: manifest not found")
    rows = read_dataset(manifest)
    for row in rows:
        if row.problem:  # a folder's clip without its transcript: nothing to score against
            raise VoxtuneError(f"{row.where}: {row.problem}")
    return [ManifestRow(row.audio, row.text, row.language) for row in rows]
