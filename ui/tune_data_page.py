"""Step 1, Data: a folder or a manifest, or sentences recorded in the app (``tune_record``);
every row checked by the engine before anything else.

The check is ``CheckTuneData``: the engine reads the set the way the tune will (any layout
``voxtune finetune`` takes), decodes every clip and names each row it cannot train on with
its reason, so the user fixes them here instead of reading them in a failed run's log.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine import protocol as p

MANIFESTS = "Manifests (*.tsv *.csv *.jsonl)"


class DataPage(QWidget):
    def __init__(self, recorder: QWidget | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        intro = QLabel(
            "Recordings of your own words: a folder of audio files with same-named .txt "
            "transcripts, or a manifest (TSV/CSV with audio and text columns, or JSONL). "
            "No recordings yet? Record them here."
        )
        intro.setWordWrap(True)
        self.path = QLineEdit()
        self.path.setPlaceholderText("a folder or a manifest")
        self.folder_button = QPushButton("Folder…")
        self.folder_button.clicked.connect(self._choose_folder)
        self.manifest_button = QPushButton("Manifest…")
        self.manifest_button.clicked.connect(self._choose_manifest)
        self.check_button = QPushButton("Check rows")
        self.summary = QLabel("Not checked yet.")
        self.summary.setWordWrap(True)
        self.bad_rows = QTableWidget(0, 2)
        self.bad_rows.setHorizontalHeaderLabels(("Row", "Problem"))
        self.bad_rows.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.bad_rows.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.bad_rows.verticalHeader().hide()

        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        for button in (self.folder_button, self.manifest_button, self.check_button):
            row.addWidget(button)
        files = QWidget()
        files_layout = QVBoxLayout(files)
        files_layout.addWidget(intro)
        files_layout.addLayout(row)
        files_layout.addStretch(1)
        self.sources = QTabWidget()
        self.sources.addTab(files, "Files on disk")
        if recorder is not None:
            self.sources.addTab(recorder, "Record in the app")
        layout = QVBoxLayout(self)
        layout.addWidget(self.sources)
        # The recording panel wants the room; the files row does not (nor an empty gap).
        self.sources.currentChanged.connect(
            lambda index: layout.setStretchFactor(self.sources, 3 if index else 0)
        )
        layout.addWidget(self.summary)
        layout.addWidget(self.bad_rows, 1)
        self.report: p.TuneDataReport | None = None

    @property
    def usable(self) -> bool:
        """Checked, with rows to train on and to validate with."""
        checked = self.report.checked if self.report else None
        return checked is not None and checked.train_rows > 0 and checked.validation_rows > 0

    def checking(self) -> None:
        self.report = None
        self.summary.setText("Checking every row…")
        self.bad_rows.setRowCount(0)

    def show_report(self, report: p.TuneDataReport) -> None:
        self.report = report
        if report.checked is None:
            self.summary.setText(f"Cannot use this data: {report.error}")
            self.bad_rows.setRowCount(0)
            return
        checked = report.checked
        text = (
            f"{checked.train_rows} rows to train on, {checked.validation_rows} held out to "
            f"measure WER; {_rows(len(checked.bad_rows))} skipped."
        )
        if checked.train_rows == 0 or checked.validation_rows == 0:
            text += " Not enough usable rows: fix the rows below or add recordings."
        self.summary.setText(text)
        self.bad_rows.setRowCount(len(checked.bad_rows))
        for index, bad in enumerate(checked.bad_rows):
            self.bad_rows.setItem(index, 0, QTableWidgetItem(bad.where))
            self.bad_rows.setItem(index, 1, QTableWidgetItem(bad.problem))
        self.bad_rows.resizeColumnToContents(0)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of recordings")
        if folder:
            self.path.setText(folder)

    def _choose_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Manifest", "", MANIFESTS)
        if path:
            self.path.setText(path)


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"
