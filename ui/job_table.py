"""The queue as a table model: one row per job, kept up to date from the bridge's signals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar

from voxtune.engine.jobs.job import Job, JobState

COLUMNS: tuple[str, ...] = ("File", "State", "Progress", "ETA", "Duration", "Output")
PROGRESS_COLUMN = COLUMNS.index("Progress")
INTERRUPTED = "interrupted — resuming"
CANCELLING = "cancelling…"
# The widest text the State column shows: it is sized for it once, so no state reshuffles it.
WIDEST_STATE = INTERRUPTED

Index = QModelIndex | QPersistentModelIndex


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class JobTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._jobs: list[Job] = []
        self._eta: dict[int, float | None] = {}
        self._note: dict[int, str] = {}  # shown instead of the state, e.g. after a crash

    # -- reading ------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        job = self._jobs[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(job, column)
        if role == Qt.ItemDataRole.UserRole:
            return job
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == "State" and job.error:
                return job.error
            if column == "File":
                return job.spec.input_path
            if column == "Output" and job.outputs:
                return "\n".join(job.outputs)
        return None

    def _text(self, job: Job, column: str) -> str:
        match column:
            case "File":
                return Path(job.spec.input_path).name
            case "State":
                return self._note.get(job.id, job.state.value)
            case "Progress":
                return f"{job.progress:.0%}"
            case "ETA":
                running = job.state == JobState.RUNNING
                return format_seconds(self._eta.get(job.id)) if running else "–"
            case "Duration":
                return format_seconds(job.duration)
            case _:
                return ", ".join(Path(o).name for o in job.outputs) or job.spec.output_dir

    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def job(self, job_id: int) -> Job | None:
        row = self._row(job_id)
        return None if row is None else self._jobs[row]

    def job_at(self, row: int) -> Job:
        return self._jobs[row]

    def _row(self, job_id: int) -> int | None:
        for row, job in enumerate(self._jobs):
            if job.id == job_id:
                return row
        return None

    # -- writing (slots for the bridge's signals) ----------------------------------------

    def set_jobs(self, jobs: list[Job]) -> None:
        self.beginResetModel()
        self._jobs = sorted(jobs, key=lambda j: j.id)
        self._eta.clear()
        self._note.clear()
        self.endResetModel()

    def merge_jobs(self, jobs: list[Job]) -> None:
        """The engine's listing: rows update in place (a selection survives), new ones append.

        It arrives some time after the window asked (``ListJobs``), maybe after the user
        selected a row; a reset would drop that selection.
        """
        if not self._jobs:
            self.set_jobs(jobs)
            return
        # The listing is all the store has: a row it lacks was cleared (ClearJobs).
        listed = {job.id for job in jobs}
        for row in reversed(range(len(self._jobs))):
            if self._jobs[row].id not in listed:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._jobs[row]
                self.endRemoveRows()
        for job in sorted(jobs, key=lambda j: j.id):
            self.upsert(job)

    def upsert(self, job: Job) -> None:
        self._note.pop(job.id, None)
        row = self._row(job.id)
        if row is None:
            self.beginInsertRows(QModelIndex(), len(self._jobs), len(self._jobs))
            self._jobs.append(job)
            self.endInsertRows()
        else:
            self._replace(row, job)

    def on_started(self, job_id: int, duration: float | None) -> None:
        self._note.pop(job_id, None)
        self._change(job_id, state=JobState.RUNNING, **({"duration": duration} if duration else {}))

    def on_progress(self, job_id: int, fraction: float, eta: float | None) -> None:
        self._eta[job_id] = eta
        self._change(job_id, state=JobState.RUNNING, progress=fraction)

    def on_done(self, job_id: int, outputs: tuple[str, ...]) -> None:
        self._note.pop(job_id, None)
        self._change(job_id, state=JobState.DONE, progress=1.0, outputs=outputs, error=None)

    def on_failed(self, job_id: int, message: str, retryable: bool) -> None:
        self._note.pop(job_id, None)
        self._change(job_id, state=JobState.FAILED, error=message, retryable=retryable)

    def on_cancelled(self, job_id: int) -> None:
        self._note.pop(job_id, None)
        self._change(job_id, state=JobState.CANCELLED)

    def set_note(self, job_id: int, note: str) -> None:
        """Show ``note`` in the State cell until the job's next event (e.g. "cancelling…")."""
        self._note[job_id] = note
        self._change(job_id)

    def on_engine_died(self, _reason: str, job_ids: tuple[int, ...]) -> None:
        for job_id in job_ids:
            self._note[job_id] = INTERRUPTED
            self._change(job_id)

    def _change(self, job_id: int, **values: object) -> None:
        row = self._row(job_id)
        if row is not None:
            self._replace(row, replace(self._jobs[row], **values))  # type: ignore[arg-type]

    def _replace(self, row: int, job: Job) -> None:
        self._jobs[row] = job
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))


class ProgressDelegate(QStyledItemDelegate):
    """Draws the Progress column as a progress bar in the current style."""

    def paint(self, painter, option, index: Index) -> None:
        job = index.data(Qt.ItemDataRole.UserRole)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = round(job.progress * 1000) if job else 0
        bar.text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        bar.textVisible = True
        # Qt 6 reads the orientation from the state; without it the bar is drawn vertical.
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)
