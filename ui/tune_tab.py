"""The Tune tab: a four-step wizard from "it keeps getting my words wrong" to a better model.

Data → Plan → Train → Result, each step a page of its own module (``tune_*_page``); this
module only walks between them and talks to the engine through the bridge: CheckTuneData,
EstimateTune, StartTune/StopTune, and their answers. A tune that has not ended is recorded
(``tune_pending``), so after a closed app or a dead engine the tab offers Resume, which
continues from the newest checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from voxtune.engine import protocol as p
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.tune.events import EvalDone, TuneEvent, WorstUtterance
from voxtune.engine.tune.recordings import RecordingSet
from voxtune.ui import tune_pending
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.settings import UiSettings
from voxtune.ui.tune_data_page import DataPage
from voxtune.ui.tune_plan import default_out, registered_name, tune_config
from voxtune.ui.tune_plan_page import PlanPage
from voxtune.ui.tune_record import RecordPanel
from voxtune.ui.tune_result_page import ResultPage
from voxtune.ui.tune_train_page import TrainPage

STEPS = ("Data", "Plan", "Train", "Result")
DATA, PLAN, TRAIN, RESULT = range(4)


class TuneTab(QWidget):
    def __init__(
        self,
        bridge: EngineBridge,
        settings: Callable[[], UiSettings],
        on_settings: Callable[[UiSettings], None],
        parent: QWidget | None = None,
        *,
        pending_record: Path | None = None,
        recordings: RecordingSet | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._settings = settings
        self._on_settings = on_settings
        self._record = pending_record  # None: the one in Voxtune's home
        # Options a caller sets over the plan's (a test makes its tune short with them).
        self.overrides: dict[str, object] = {}
        self.config: TuneConfig | None = None  # the tune started last
        self.running = False
        self._asked: dict[str, int | None] = dict.fromkeys(("check", "estimate", "tune", "export"))
        self._worst: tuple[WorstUtterance, ...] = ()

        self.step_labels = [QLabel(f"{i + 1}  {name}") for i, name in enumerate(STEPS)]
        header = QHBoxLayout()
        for label in self.step_labels:
            header.addWidget(label)
        header.addStretch(1)
        self.resume_bar = QWidget()
        self.resume_label = QLabel()
        self.resume_label.setWordWrap(True)
        self.resume_button = QPushButton("Resume")
        self.discard_button = QPushButton("Discard")
        bar = QHBoxLayout(self.resume_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.resume_label, 1)
        bar.addWidget(self.resume_button)
        bar.addWidget(self.discard_button)
        self.record_panel = RecordPanel(
            bridge, lambda: self._settings().input_device or None, recordings
        )
        self.data_page, self.plan_page = DataPage(self.record_panel), PlanPage()
        self.train_page, self.result_page = TrainPage(), ResultPage()
        self.stack = QStackedWidget()
        for page in (self.data_page, self.plan_page, self.train_page, self.result_page):
            self.stack.addWidget(page)
        self.back_button = QPushButton("Back")
        self.next_button = QPushButton("Next")
        nav = QHBoxLayout()
        nav.addWidget(self.back_button)
        nav.addStretch(1)
        nav.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.resume_bar)
        layout.addWidget(self.stack, 1)
        layout.addLayout(nav)

        self.data_page.check_button.clicked.connect(self.check_data)
        self.record_panel.use_recordings.connect(self.use_recordings)
        self.plan_page.estimate_button.clicked.connect(self.estimate)
        self.plan_page.start_button.clicked.connect(self.start_planned)
        self.train_page.stop_button.clicked.connect(self.stop)
        self.result_page.use_button.clicked.connect(self.use_model)
        self.result_page.play_requested.connect(self.bridge.play_audio)
        self.result_page.export_requested.connect(self.export)
        self.resume_button.clicked.connect(self.resume)
        self.discard_button.clicked.connect(self.discard)
        self.back_button.clicked.connect(lambda: self.go(self.stack.currentIndex() - 1))
        self.next_button.clicked.connect(lambda: self.go(self.stack.currentIndex() + 1))
        bridge.tune_data_checked.connect(self._on_checked)
        bridge.tune_estimated.connect(self._on_estimated)
        bridge.tune_progress.connect(self._on_progress)
        bridge.tune_result.connect(self._on_result)
        bridge.models_listed.connect(self._on_models)
        bridge.models_changed.connect(lambda models, *_: self._on_models(models))
        bridge.export_done.connect(self._on_exported)
        bridge.engine_died.connect(self._on_engine_died)
        self.go(DATA)
        self.offer_resume()

    # -- steps --------------------------------------------------------------------------

    def go(self, index: int) -> None:
        index = max(DATA, min(RESULT, index))
        if index == PLAN and self.stack.currentIndex() == DATA:
            self._enter_plan()
        self.stack.setCurrentIndex(index)
        for i, label in enumerate(self.step_labels):
            label.setStyleSheet("font-weight: bold;" if i == index else "color: gray;")
        # Train and Result are reached by starting a tune, not by Next.
        self.back_button.setEnabled(index in (PLAN, RESULT) and not self.running)
        self.next_button.setEnabled(index == DATA and self.data_page.usable)

    def _enter_plan(self) -> None:
        settings = self._settings()
        if not self.plan_page.base.currentText():
            self.plan_page.base.setCurrentText(settings.model)
        if not self.plan_page.out.text():
            base = self.plan_page.base.currentText()
            self.plan_page.out.setText(str(default_out(Path(settings.output_dir), base)))
        self.bridge.list_models()

    def planned_config(self) -> TuneConfig:
        plan = self.plan_page.plan(self._data_path(), self._settings().device)
        config = tune_config(replace(plan, register_as=registered_name(plan.out)))
        return replace(config, **self.overrides)  # type: ignore[arg-type]

    def _data_path(self) -> Path:
        return Path(self.data_page.path.text().strip())

    # -- engine commands ------------------------------------------------------------------

    def check_data(self) -> None:
        if not self.data_page.path.text().strip():
            return
        base = self.plan_page.base.currentText() or self._settings().model
        config = TuneConfig(data=self._data_path(), out=Path("."), base=base)
        config = replace(config, **_data_shaping(self.overrides))  # type: ignore[arg-type]
        self.data_page.checking()
        self.next_button.setEnabled(False)
        self._asked["check"] = self.bridge.check_tune_data(config)

    def use_recordings(self, manifest: Path) -> None:
        """The recorded set becomes the data: checked like any manifest."""
        self.data_page.path.setText(str(manifest))
        self.check_data()

    def estimate(self) -> None:
        self.plan_page.estimating()
        self._asked["estimate"] = self.bridge.estimate_tune(self.planned_config())

    def start_planned(self) -> None:
        estimate = self.plan_page.estimate
        if estimate is not None and not estimate.fits:
            answer = QMessageBox.question(
                self, "Start anyway?", "The estimate says this tune will not fit. Start anyway?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.start(self.planned_config())

    def start(self, config: TuneConfig) -> None:
        tune_pending.remember(config, self._record)
        self.config, self.running, self._worst = config, True, ()
        self.resume_bar.hide()
        self.train_page.clear()
        self._asked["tune"] = self.bridge.start_tune(config)
        self.go(TRAIN)

    def stop(self) -> None:
        if self.running:
            self.train_page.stopping()
            self.bridge.stop_tune()

    def resume(self) -> None:
        config = tune_pending.pending(self._record)
        if config is not None:
            self.start(config)

    def discard(self) -> None:
        tune_pending.forget(self._record)
        self.resume_bar.hide()

    def offer_resume(self) -> None:
        config = tune_pending.pending(self._record)
        if config is None or self.running:
            self.resume_bar.hide()
            return
        step = tune_pending.checkpoint_steps(config)
        where = f"from its checkpoint at step {step}" if step else "from the beginning"
        self.resume_label.setText(
            f"A tune of {config.base} into {config.out} did not finish. Resume it {where}?"
        )
        self.resume_bar.show()

    def use_model(self) -> None:
        summary = self.result_page.summary
        if summary is None or summary.registered_as is None:
            return
        self._on_settings(replace(self._settings(), model=summary.registered_as))
        self.result_page.used.setText(f"{summary.registered_as} is now the default model.")

    def export(self, format_name: str) -> None:
        """Export the tuned model (base + adapter, or a full tune's folder) into the tune's
        folder; the engine verifies it and ExportDone brings its numbers."""
        summary, config = self.result_page.summary, self.config
        if summary is None or config is None:
            return
        out = config.out / "exports" / format_name
        if config.method == "full":
            model, adapter = summary.adapter, None
        else:
            model, adapter = config.base, summary.adapter
        self._asked["export"] = self.bridge.export_model(format_name, str(out), model, adapter)
        if self._asked["export"] is not None:
            self.result_page.export_started(format_name, str(out))

    # -- engine events --------------------------------------------------------------------

    def _ours(self, asked: str, event: p.Event) -> bool:
        seq = self._asked[asked]
        return seq is not None and getattr(event, "reply_to", 0) == seq

    def _on_checked(self, report: p.TuneDataReport) -> None:
        if self._ours("check", report):
            self.data_page.show_report(report)
            self.go(self.stack.currentIndex())

    def _on_estimated(self, event: p.TuneEstimated) -> None:
        if self._ours("estimate", event):
            self.plan_page.show_estimate(event)

    def _on_progress(self, update: TuneEvent) -> None:
        if not self.running:
            return
        self.train_page.add(update)
        if isinstance(update, EvalDone):
            self._worst = update.worst

    def _on_result(self, result: p.TuneResult) -> None:
        if not self._ours("tune", result):
            return
        self.running = False
        tune_pending.forget(self._record)
        if result.summary is not None:
            self.result_page.show_result(result.summary, self._worst, result.stopped)
        else:
            self.result_page.show_failure(result.error or "stopped before anything was saved")
        self.go(RESULT)

    def _on_exported(self, done: p.ExportDone) -> None:
        if self._ours("export", done):
            self.result_page.show_export(done)

    def _on_models(self, models: tuple[p.ModelEntry, ...]) -> None:
        self.plan_page.set_models([m.name for m in models], self._settings().model)

    def _on_engine_died(self, reason: str, _jobs: tuple[int, ...]) -> None:
        if self.running:
            self.running = False
            self.train_page.status.setText(f"The engine stopped: {reason}.")
            self.offer_resume()


def _data_shaping(overrides: dict[str, object]) -> dict[str, object]:
    """The overrides that change how rows are split (the check must split as the tune will)."""
    keys = ("validation", "validation_fraction", "seed", "language")
    return {k: v for k, v in overrides.items() if k in keys}
