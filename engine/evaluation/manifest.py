"""Evaluation manifests: TSV lines of audio path and reference text.

Either two columns without a header (``path<TAB>reference``), or a header naming ``path`` and
``reference`` (and optionally ``language``), as in ``../shared/data/dev.tsv``. Relative paths
are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import VoxtuneError


@dataclass(frozen=True)
class ManifestRow:
    audio: Path
    reference: str
    language: str | None = None


def read_manifest(path: str | Path) -> list[ManifestRow]:
    manifest = Path(path)
    try:
        text = manifest.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VoxtuneError(f"{manifest}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VoxtuneError(f"{manifest}: cannot read manifest ({exc})") from None
    rows = [r for r in csv.reader(text.splitlines(), delimiter="\t") if any(c.strip() for c in r)]
    if not rows:
        raise VoxtuneError(f"{manifest}: manifest is empty")
    header = [c.strip().lower() for c in rows[0]]
    if "path" in header and "reference" in header:
        path_col, ref_col = header.index("path"), header.index("reference")
        lang_col = header.index("language") if "language" in header else None
        body, first_line = rows[1:], 2
    else:
        first = Path(rows[0][0].strip())
        if not first.suffix and not (manifest.parent / first).is_file():
            # A header with other names ("audio", "text"): not a file without an extension.
            raise VoxtuneError(
                f"{manifest}: line 1 looks like a header ({'/'.join(rows[0])}); "
                "name its columns path, reference (and language), or leave it out"
            )
        path_col, ref_col, lang_col = 0, 1, None
        body, first_line = rows, 1
    result = []
    for line, row in enumerate(body, start=first_line):
        if len(row) <= max(path_col, ref_col):
            raise VoxtuneError(
                f"{manifest}: line {line}: expected audio path, a tab, reference text"
            )
        audio = Path(row[path_col].strip())
        language = row[lang_col].strip() or None if lang_col is not None else None
        result.append(
            ManifestRow(
                audio if audio.is_absolute() else manifest.parent / audio,
                row[ref_col].strip(),
                language,
            )
        )
    return result
