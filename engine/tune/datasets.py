"""Read a data set: an audio folder with .txt transcripts, CSV/TSV/JSONL, or audiofolder.

The one reader of manifests: ``voxtune finetune`` trains on its rows and ``voxtune eval``
scores them (``evaluation.read_manifest``), so one TSV (``audio``/``text`` or
``path``/``reference`` columns, or no header at all) works in both.

Every layout becomes the same list of ``DataRow``; each row remembers where it came from
("data.csv: row 4"), so problems found later are reported against the user's own file.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import VoxtuneError

AUDIO_SUFFIXES = frozenset(
    [
        ".wav",
        ".flac",
        ".mp3",
        ".ogg",
        ".opus",
        ".m4a",
        ".aac",
        ".wma",
        ".webm",
        ".mp4",
        ".mkv",
        ".mov",
    ]
)
AUDIO_COLUMNS = ("audio", "path", "file_name", "file", "audio_path")
TEXT_COLUMNS = ("text", "transcription", "transcript", "sentence", "reference")
AUDIOFOLDER_METADATA = "metadata.csv"


@dataclass(frozen=True)
class DataRow:
    where: str  # for messages: "data.csv: row 4" or the audio file's name
    audio: Path
    text: str
    language: str | None = None
    problem: str | None = None  # found while reading (a missing transcript file)


def read_dataset(source: Path) -> list[DataRow]:
    """The rows of a data set in any supported layout; VoxtuneError when it cannot be read."""
    if source.is_dir():
        if (source / AUDIOFOLDER_METADATA).is_file():
            return _read_table(source / AUDIOFOLDER_METADATA, ",")
        return _read_folder(source)
    if not source.exists():
        raise VoxtuneError(f"{source}: data set not found")
    suffix = source.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(source)
    if suffix in (".csv", ".tsv"):
        return _read_table(source, "\t" if suffix == ".tsv" else ",")
    raise VoxtuneError(f"{source}: not a data set (a folder, .csv, .tsv or .jsonl)")


def _read_folder(folder: Path) -> list[DataRow]:
    audio = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not audio:
        raise VoxtuneError(f"{folder}: no audio files and no {AUDIOFOLDER_METADATA}")
    rows = []
    for path in audio:
        transcript = path.with_suffix(".txt")
        problem = None
        try:
            text = transcript.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            # Validation reports it, together with the other problems; as missing, since an
            # empty transcript is another mistake with another fix.
            text, problem = "", f"transcript {transcript.name} not found"
        except (OSError, UnicodeDecodeError) as exc:
            raise VoxtuneError(f"{transcript}: cannot read transcript ({exc})") from None
        rows.append(DataRow(str(path.relative_to(folder)), path, text, problem=problem))
    return rows


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise VoxtuneError(f"{path}: cannot read data set ({exc})") from None


def _column(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in header), None)


def _read_table(path: Path, delimiter: str) -> list[DataRow]:
    """A CSV/TSV with a header naming its columns, or (as ``voxtune eval`` always took) two
    columns without one: audio path, reference text."""
    lines = _read_text(path).splitlines()
    cells = next(csv.reader(lines[:1], delimiter=delimiter), [])
    header = [name.strip().lower() for name in cells]
    audio_column, text_column = _column(header, AUDIO_COLUMNS), _column(header, TEXT_COLUMNS)
    if audio_column is None or text_column is None:
        first = Path(cells[0].strip()) if cells else Path()
        if cells and (first.suffix or (path.parent / first).is_file()):
            return _read_headerless(path, lines, delimiter)
        raise VoxtuneError(
            f"{path}: line 1 looks like a header ({'/'.join(cells)}); the header needs an audio "
            f"column ({'/'.join(AUDIO_COLUMNS)}) and a text column ({'/'.join(TEXT_COLUMNS)}), "
            "or leave it out (audio path, then text)"
        )
    reader = csv.DictReader(lines[1:], fieldnames=header, delimiter=delimiter)
    rows = []
    for line, record in enumerate(reader, start=2):
        rows.append(_row(path, line, record.get(audio_column), record.get(text_column), record))
    if not rows:
        raise VoxtuneError(f"{path}: data set has no rows")
    return rows


def _read_headerless(path: Path, lines: list[str], delimiter: str) -> list[DataRow]:
    rows = []
    for line, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < 2:
            tab = "a tab" if delimiter == "\t" else "a comma"
            raise VoxtuneError(f"{path}: line {line}: expected audio path, {tab}, reference text")
        rows.append(_row(path, line, cells[0], cells[1], {}))
    return rows


def _read_jsonl(path: Path) -> list[DataRow]:
    rows = []
    for line, text in enumerate(_read_text(path).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError:
            raise VoxtuneError(f"{path}: row {line}: not a JSON object") from None
        if not isinstance(record, dict):
            raise VoxtuneError(f"{path}: row {line}: not a JSON object")
        record = {str(k).lower(): v for k, v in record.items()}
        audio = record.get(_column(list(record), AUDIO_COLUMNS) or "")
        rows.append(
            _row(path, line, audio, record.get(_column(list(record), TEXT_COLUMNS) or ""), record)
        )
    if not rows:
        raise VoxtuneError(f"{path}: data set has no rows")
    return rows


def _row(path: Path, line: int, audio: object, text: object, record: dict) -> DataRow:
    audio_path = Path(str(audio or "").strip())
    if str(audio_path) and not audio_path.is_absolute():
        audio_path = path.parent / audio_path
    language = str(record.get("language") or "").strip() or None
    return DataRow(f"{path.name}: row {line}", audio_path, str(text or "").strip(), language)
