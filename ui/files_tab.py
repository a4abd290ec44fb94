"""Files tab: drop files or folders, watch the queue, cancel, retry, open what was written."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine import protocol as p
from voxtune.engine.jobs.job import OUTPUT_FORMATS, Job, JobSpec, JobState
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.job_table import (
    CANCELLING,
    COLUMNS,
    PROGRESS_COLUMN,
    WIDEST_STATE,
    JobTableModel,
    ProgressDelegate,
)
from voxtune.ui.settings import UiSettings

MEDIA_SUFFIXES = frozenset({
    ".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".oga", ".opus", ".wma",
    ".webm", ".mp4", ".mkv", ".mov", ".avi", ".m4v",
})  # fmt: skip
DROP_HINT = "Drop audio or video files or folders anywhere on the window."
OUTPUT_WIDTH = 220  # px; the Output column is as wide as this, eliding longer names
MEDIA_FILTER = "Audio and video (" + " ".join(f"*{s}" for s in sorted(MEDIA_SUFFIXES)) + ")"


def media_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and the media files inside folders (recursively, sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = (p for p in path.rglob("*") if p.suffix.lower() in MEDIA_SUFFIXES)
            found.extend(sorted(p for p in inside if p.is_file()))
        elif path.is_file():
            found.append(path)
    return found


class FilesTab(QWidget):
    edit_requested = Signal(int)  # a done job's id: open its transcript in the editor

    def __init__(
        self,
        bridge: EngineBridge,
        settings: Callable[[], UiSettings],
        on_settings: Callable[[UiSettings], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._settings = settings
        self._on_settings = on_settings
        self.model = JobTableModel()
        self.languages: dict[str, tuple[str, ...]] = {}  # model name → languages it knows
        self._asked: set[str] = set()  # keys of specs sent by add_paths, not answered yet
        self._connect_bridge()

        self.add_button = QPushButton("Add files…")
        self.add_button.setToolTip("Add audio or video files (Ctrl+O), or drop them here")
        self.add_button.clicked.connect(self.choose_files)
        self.format_boxes = {f: QCheckBox(f.upper()) for f in OUTPUT_FORMATS}
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("Output folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.choose_output_dir)

        options = QHBoxLayout()
        options.addWidget(self.add_button)
        options.addSpacing(12)
        options.addWidget(QLabel("Formats:"))
        for box in self.format_boxes.values():
            options.addWidget(box)
        options.addSpacing(12)
        options.addWidget(QLabel("Output folder:"))
        options.addWidget(self.output_edit, 1)
        options.addWidget(browse)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Fixed widths sized once for the widest text each column shows: a state change
        # ("interrupted — resuming") or a long output name never reshuffles the columns, and
        # only the File column stretches, so nothing is pushed off the window at 1024 px.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        metrics = self.table.fontMetrics()
        widths = {
            "State": metrics.horizontalAdvance(WIDEST_STATE) + 24,
            "Progress": 140,
            "ETA": metrics.horizontalAdvance("0:00:00") + 24,
            "Duration": metrics.horizontalAdvance("Duration0:00") + 24,
            "Output": OUTPUT_WIDTH,
        }
        for name, width in widths.items():
            header.resizeSection(COLUMNS.index(name), width)
        self.model.rowsInserted.connect(self._show_new_rows)
        self.table.doubleClicked.connect(lambda _: self.edit_or_open())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.hint = QLabel(DROP_HINT)
        self.hint.setWordWrap(True)
        keep = self.hint.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # hidden, it still holds the buttons to the right
        self.hint.setSizePolicy(keep)
        # Why the selected job failed, in full: a tooltip was cut off at the window edge.
        self.details = QLabel()
        self.details.setObjectName("job-details")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()
        self.cancel_button = QPushButton("Cancel")
        self.retry_button = QPushButton("Retry")
        self.open_button = QPushButton("Open output")
        self.edit_button = QPushButton("Edit transcript")
        self.edit_button.setToolTip("Play, correct and export again (or double-click the job)")
        self.edit_button.clicked.connect(self.edit_selected)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.retry_button.clicked.connect(self.retry_selected)
        self.open_button.clicked.connect(self.open_output)
        actions = QHBoxLayout()
        actions.addWidget(self.hint, 1)
        for button in (self.cancel_button, self.retry_button, self.edit_button, self.open_button):
            actions.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(options)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(actions)
        self.load_settings(settings())
        for box in self.format_boxes.values():
            box.toggled.connect(lambda _: self._store_choices())
        self.output_edit.editingFinished.connect(self._store_choices)
        self.model.dataChanged.connect(lambda *_: self._update_buttons())
        self._update_buttons()

    def _connect_bridge(self) -> None:
        b, m = self.bridge, self.model
        b.jobs_loaded.connect(m.merge_jobs)
        b.job_queued.connect(m.upsert)
        b.job_started.connect(m.on_started)
        b.job_progress.connect(m.on_progress)
        b.job_done.connect(m.on_done)
        b.job_failed.connect(m.on_failed)
        b.job_cancelled.connect(m.on_cancelled)
        b.engine_died.connect(m.on_engine_died)
        b.job_queued.connect(self._on_queued)
        b.models_listed.connect(self.know_models)
        b.models_changed.connect(lambda models, *_: self.know_models(models))

    def know_models(self, models: tuple[p.ModelEntry, ...]) -> None:
        self.languages = {m.name: m.languages for m in models}

    # -- choices --------------------------------------------------------------------------

    def load_settings(self, settings: UiSettings) -> None:
        for name, box in self.format_boxes.items():
            box.setChecked(name in settings.formats)
        self.output_edit.setText(settings.output_dir)

    def formats(self) -> tuple[str, ...]:
        return tuple(f for f, box in self.format_boxes.items() if box.isChecked())

    def _store_choices(self) -> None:
        current = self._settings()
        formats = self.formats() or current.formats
        output_dir = self.output_edit.text().strip() or current.output_dir
        self._on_settings(replace(current, formats=formats, output_dir=output_dir))

    def choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_edit.text())
        if folder:
            self.output_edit.setText(folder)
            self._store_choices()

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Add files", str(Path.home()), MEDIA_FILTER)
        self.add_paths(names)

    # -- queue ----------------------------------------------------------------------------

    def add_paths(self, paths: Iterable[str | Path]) -> list[JobSpec]:
        """Queue every media file in ``paths`` (folders are searched); the specs sent."""
        paths = list(paths)
        self._store_choices()
        settings = self._settings()
        specs = [
            JobSpec.for_file(
                path,
                settings.output_dir,
                formats=settings.formats,
                model=settings.model,
                options=settings.transcription_options(),
                rules=settings.subtitle_rules(),
            )
            for path in media_files(paths)
        ]
        for spec in specs:
            self._asked.add(spec.key())
            self.bridge.submit(spec)
        if not specs:
            names = ", ".join(Path(p).name or str(p) for p in paths)
            self.say(f"{names}: no audio or video files there, nothing was added.")
        elif warning := self.language_warning(settings):
            self.say(warning)
        else:
            self.hint.hide()  # an old "nothing was added" is no longer true
        return specs

    def language_warning(self, settings: UiSettings) -> str | None:
        """An English-only model asked to detect the language would write English nonsense."""
        if settings.language or self.languages.get(settings.model) != ("en",):
            return None
        return (
            f"{settings.model} knows English only: speech in any other language comes out as "
            "English nonsense. For other languages choose a multilingual model (Models tab)."
        )

    def say(self, text: str) -> None:
        self.hint.setText(text)
        self.hint.show()

    def _on_queued(self, job: Job) -> None:
        key = job.spec.key()
        if key not in self._asked:
            return
        self._asked.discard(key)
        if job.state == JobState.DONE:  # the engine had done this very file already
            ids = [j.id for j in self.model.jobs()]
            self.table.selectRow(ids.index(job.id))
            self.say(
                f"{Path(job.spec.input_path).name} was already transcribed with these settings "
                "(selected): Edit transcript or Open output, or Retry to run it again."
            )

    def selected_jobs(self) -> list[Job]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.job_at(r) for r in rows]

    def cancel_selected(self) -> None:
        for job in self.selected_jobs():
            if not job.state.finished:
                # The engine stops at its next check (seconds): say so now.
                self.model.set_note(job.id, CANCELLING)
                self.bridge.cancel(job.id)

    def _changed_since(self, job: Job) -> bool:
        settings = self._settings()
        return (job.spec.model, job.spec.options) != (
            settings.model,
            settings.transcription_options(),
        )

    def _can_retry(self, job: Job) -> bool:
        stopped = job.state in (JobState.FAILED, JobState.CANCELLED)
        return stopped and (job.retryable or self._changed_since(job))

    def retry_selected(self) -> None:
        """Run failed or cancelled jobs again — with the settings as they are now.

        A job that failed on a bad model name must not fail again with it after the user
        fixed Settings; unchanged settings resume from the persisted segments instead.
        """
        settings = self._settings()
        for job in self.selected_jobs():
            if job.state not in (JobState.FAILED, JobState.CANCELLED):
                continue
            if self._changed_since(job):
                options = settings.transcription_options()
                self.bridge.rerun(job.id, options=options, model=settings.model)
            elif job.retryable:
                self.bridge.retry(job.id)

    def edit_selected(self) -> None:
        for job in self.selected_jobs():
            if job.state == JobState.DONE:
                self.edit_requested.emit(job.id)

    def edit_or_open(self) -> None:
        """Double-click: a done job opens in the editor, any other its output folder."""
        if any(job.state == JobState.DONE for job in self.selected_jobs()):
            self.edit_selected()
        else:
            self.open_output()

    def open_output(self) -> None:
        for job in self.selected_jobs():
            target = job.outputs[0] if job.outputs else job.spec.output_dir
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(target)):
                self.say(f"No application is set to open {Path(target).name}; it is at {target}")

    def _show_new_rows(self, _parent: QModelIndex, _first: int, last: int) -> None:
        # After the view has laid the new rows out (it does so later in this event loop).
        QTimer.singleShot(0, lambda: self.table.scrollTo(self.model.index(last, 0)))

    def _update_buttons(self) -> None:
        jobs = self.selected_jobs()
        self.cancel_button.setEnabled(any(not j.state.finished for j in jobs))
        self.retry_button.setEnabled(any(self._can_retry(j) for j in jobs))
        self.open_button.setEnabled(any(j.state == JobState.DONE for j in jobs))
        self.edit_button.setEnabled(any(j.state == JobState.DONE for j in jobs))
        failed = [j for j in jobs if j.state == JobState.FAILED and j.error]
        lines = (f"{Path(j.spec.input_path).name}: {j.error}" for j in failed)
        self.details.setText("\n".join(lines))
        self.details.setVisible(bool(failed))
        if self.model.rowCount() and self.hint.text() == DROP_HINT:
            self.hint.hide()
