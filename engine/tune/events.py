"""Progress of a tune as plain data: what the CLI prints and the wizard will plot.

Torch-free on purpose, like ``voxtune.engine.types``: each event is a small frozen dataclass
with a ``kind``, so it can cross the process boundary as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BadRow:
    """One data row that cannot be trained on, and why."""

    where: str  # "data.csv: row 4" / "clips/a.wav"
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class DataChecked:
    train_rows: int
    validation_rows: int
    bad_rows: tuple[BadRow, ...] = ()
    kind: str = "tune_data_checked"


@dataclass(frozen=True, slots=True)
class TuneStarted:
    total_steps: int
    start_step: int  # > 0 when resumed from a checkpoint
    trainable_parameters: int
    total_parameters: int
    kernels: str = "kernels off"  # which layers run Triton kernels (``KernelReport.summary``)
    kind: str = "tune_started"


@dataclass(frozen=True, slots=True)
class StepDone:
    step: int
    total_steps: int
    epoch: float
    loss: float
    learning_rate: float
    samples_per_second: float
    eta_seconds: float
    kind: str = "tune_step"


@dataclass(frozen=True, slots=True)
class WorstUtterance:
    audio: str  # where the row came from: "data.tsv: row 4", "clips/a.wav"
    reference: str  # normalised
    hypothesis: str  # normalised
    wer: float
    path: str = ""  # the audio file, to play it


@dataclass(frozen=True, slots=True)
class EvalDone:
    step: int
    wer: float
    label: str  # "before", "step", "after"
    worst: tuple[WorstUtterance, ...] = field(default_factory=tuple)
    kind: str = "tune_eval"


@dataclass(frozen=True, slots=True)
class CheckpointSaved:
    step: int
    path: str
    kind: str = "tune_checkpoint"


@dataclass(frozen=True, slots=True)
class TuneFinished:
    steps: int
    stopped_early: bool
    best_step: int
    wer_before: float | None
    wer_after: float | None
    adapter: str  # the saved PEFT adapter (or full model) directory
    merged: str | None = None  # the merged full model directory, when asked for
    registered_as: str | None = None
    # WER on general speech (``TuneConfig.general``) before and after: did the tune forget?
    general_wer_before: float | None = None
    general_wer_after: float | None = None
    kind: str = "tune_finished"


@dataclass(frozen=True, slots=True)
class TuneEstimate:
    """What a tune will cost on this machine, before it starts (``preflight``).

    The time comes from training steps measured here on the user's own rows; memory is the
    engine's peak while measuring plus the cached examples of every row; disk is the adapter
    (or model), the kept checkpoints and the merged copy when asked for.
    """

    total_steps: int
    step_seconds: float  # one measured optimizer step
    seconds: float  # the whole run: encoding, every step, every evaluation
    peak_memory_bytes: int
    available_memory_bytes: int
    disk_bytes: int
    free_disk_bytes: int
    device: str
    warnings: tuple[str, ...] = ()  # one line each: what will not fit, and why
    kind: str = "tune_estimate"

    @property
    def fits(self) -> bool:
        return not self.warnings


TuneEvent = DataChecked | TuneStarted | StepDone | EvalDone | CheckpointSaved | TuneFinished
