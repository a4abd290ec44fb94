"""An export verifies itself: the source model and the export transcribe one manifest, and
the report says what the export costs in accuracy and buys in size and speed."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxtune.engine.families.family import OfflineTranscriber
    from voxtune.engine.models.ready import ReadyModel
    from voxtune.engine.types import TranscriptionOptions

# The manifest shipped with Voxtune (FLEURS en dev clips, CC BY 4.0).
DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "assets" / "eval-en" / "manifest.tsv"


@dataclass(frozen=True)
class EngineScore:
    wer: float  # 0..1 over the whole manifest
    audio_seconds: float
    wall_seconds: float

    @property
    def rtf(self) -> float:
        return self.wall_seconds / self.audio_seconds if self.audio_seconds else 0.0


def score(
    transcriber: OfflineTranscriber,
    manifest: Path,
    options: TranscriptionOptions,
    multilingual: bool,
) -> EngineScore:
    from voxtune.engine.evaluation import read_manifest, word_error_rate
    from voxtune.engine.transcribe import transcribe_file

    references, hypotheses = [], []
    audio = wall = 0.0
    for row in read_manifest(manifest):
        row_options = options
        if multilingual and row.language and not options.language:
            row_options = replace(options, language=row.language)
        started = time.perf_counter()
        transcript = transcribe_file(row.audio, transcriber, row_options)
        wall += time.perf_counter() - started
        audio += transcript.duration
        references.append(row.reference)
        hypotheses.append(transcript.text)
    return EngineScore(word_error_rate(references, hypotheses), audio, wall)


@dataclass(frozen=True)
class ExportReport:
    model: str
    family: str
    quantisation: str
    manifest: str
    source: EngineScore
    export: EngineScore
    source_bytes: int
    export_bytes: int
    files: dict[str, int]  # every file of the export and its size
    engine: str = "onnx"  # what ran the export: "onnx", "whispercpp", …

    @property
    def wer_increase_points(self) -> float:
        return 100 * (self.export.wer - self.source.wer)

    def to_json(self) -> dict:
        data = asdict(self)
        for key in ("source", "export"):
            data[key]["rtf"] = getattr(self, key).rtf
        data["wer_increase_points"] = self.wer_increase_points
        return data

    def write(self, path: Path) -> Path:
        """The report as JSON at ``path``, atomically (every export format writes it so)."""
        import json

        from voxtune.engine.atomic import write_text

        return write_text(path, json.dumps(self.to_json(), indent=2))

    def table(self) -> str:
        export = f"export ({self.engine} {self.quantisation})"
        lines = [
            f"{'engine':<26}{'WER %':>8}{'RTF':>8}{'size MB':>10}",
            f"{'source (torch)':<26}{100 * self.source.wer:>8.2f}{self.source.rtf:>8.3f}"
            f"{self.source_bytes / 1e6:>10.1f}",
            f"{export:<26}{100 * self.export.wer:>8.2f}"
            f"{self.export.rtf:>8.3f}{self.export_bytes / 1e6:>10.1f}",
        ]
        return "\n".join(lines)


def verify_export(
    ready: ReadyModel,
    out: Path,
    *,
    backend: str,
    quantisation: str,
    manifest: Path,
    options: TranscriptionOptions,
) -> ExportReport:
    """The source model (torch) and the export in ``out`` (run by ``backend``) transcribe
    ``manifest``; sizes are the source folder's and the export's files."""
    from voxtune.engine.models import ModelRequest, build_model
    from voxtune.engine.models.manifest import directory_size

    multilingual = ready.info.multilingual
    source = score(ready.offline_transcriber(), manifest, options, multilingual)
    exported = build_model(ModelRequest(name=str(out), backend=backend))
    export = score(exported.offline_transcriber(), manifest, options, multilingual)
    files = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    return ExportReport(
        model=ready.info.name,
        family=ready.family.name,
        quantisation=quantisation,
        manifest=str(manifest),
        source=source,
        export=export,
        source_bytes=directory_size(ready.info.location),
        export_bytes=sum(files.values()),
        files=files,
        engine=backend,
    )
