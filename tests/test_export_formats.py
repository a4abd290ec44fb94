"""The export table the app's Export buttons are built from, and the engine task behind them."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from voxtune.engine import protocol as p
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.export.formats import EXPORT_FORMATS, read_export_report
from voxtune.engine.process.exporting import export_task


def test_every_format_names_an_exporter_that_exists() -> None:
    assert [e.name for e in EXPORT_FORMATS][:1] == ["onnx"]
    assert len({e.name for e in EXPORT_FORMATS}) == len(EXPORT_FORMATS)
    for entry in EXPORT_FORMATS:
        module, _, function = entry.exporter.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), entry.exporter


def test_an_unknown_format_or_a_failed_export_still_answers(tmp_path: Path) -> None:
    events: list[p.Event] = []
    command = p.ExportModel(format="mp3", out=str(tmp_path / "x"), model="whisper-tiny.en", seq=9)
    export_task(command, events.append)()
    assert events == [
        p.ExportDone(
            format="mp3", out=str(tmp_path / "x"), reply_to=9,
            error="export 'mp3': not a format Voxtune exports (choose from onnx)",
        )
    ]  # fmt: skip
    events.clear()
    # A folder that is neither empty nor an export is refused, in one line, before any work.
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine", encoding="utf-8")
    command = p.ExportModel(format="onnx", out=str(tmp_path / "busy"), model="whisper-tiny.en")
    export_task(command, events.append)()
    (done,) = events
    assert done.report is None and done.error.startswith(f"{tmp_path / 'busy'}: not empty")


def test_the_report_is_read_or_named_as_unreadable(tmp_path: Path) -> None:
    with pytest.raises(VoxtuneError, match=r"export-report\.json: no readable export report"):
        read_export_report(tmp_path)
    report = {
        "source": {"wer": 0.1, "rtf": 0.2}, "export": {"wer": 0.12, "rtf": 0.05},
        "export_bytes": 150_000_000, "source_bytes": 151_000_000, "quantisation": "int8",
        "manifest": "m.tsv",
    }  # fmt: skip
    (tmp_path / "export-report.json").write_text(json.dumps(report), encoding="utf-8")
    summary = read_export_report(tmp_path)
    assert summary.wer_increase_points == pytest.approx(2.0)
    assert (summary.rtf_export, summary.export_bytes) == (0.05, 150_000_000)
