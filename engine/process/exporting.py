"""An export for the app: the format's exporter from the table, on a worker, then its report.

``ExportModel`` names a format of ``voxtune.engine.export.formats.EXPORT_FORMATS``; its
exporter writes and verifies the export (minutes for a large model), and ``ExportDone``
carries the numbers of the ``export-report.json`` it left, or the one line of its failure.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from pathlib import Path

from voxtune.engine import protocol as p
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.process.workers import Emit


def export_task(command: p.ExportModel, emit: Emit) -> Callable[[], None]:
    def task() -> None:
        from voxtune.engine.export.formats import export_format, read_export_report

        def done(**answer: object) -> None:
            emit(p.ExportDone(format=command.format, out=command.out, reply_to=command.seq,
                              **answer))  # type: ignore[arg-type]  # fmt: skip

        out = Path(command.out)
        try:
            module, _, function = export_format(command.format).exporter.partition(":")
            exporter = getattr(importlib.import_module(module), function)
            exporter(command.model, Path(command.adapter) if command.adapter else None, out)
            report = read_export_report(out)
        except VoxtuneError as exc:
            done(error=str(exc))
        except Exception as exc:  # the app waits for ExportDone: it comes, whatever happened
            trace = "".join(traceback.format_exception(exc))
            emit(p.Log(level="error", message=f"export_model failed:\n{trace}"))
            done(error=f"export failed (internal error: {type(exc).__name__}: {exc})")
        else:
            done(report=report)

    return task
