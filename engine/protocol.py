"""The messages between the UI (or CLI) and the engine process — and nothing else crosses.

Commands go in, events come out, over two ``multiprocessing`` queues. Every message is a
small frozen dataclass with a ``kind`` (for dispatch), the ``version`` of this protocol and a
``seq`` numbered by its sender; those about a job carry its ``job_id``. Payloads are plain
data: core types from ``voxtune.engine.types``, the job model, strings and numbers. Never
tensors, model objects or exceptions (an error travels as its one-line message).

Torch-free and light: the UI imports this module, and importing it loads about ten of
Voxtune's modules (``tests/test_import_boundaries.py`` holds the number). Payload types come
from leaf modules only (``types``, ``jobs.job``, ``subtitles.rules``, ``tune.config`` and
``tune.events``), never the job store, the model code or torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from voxtune.engine.export.formats import ExportSummary
from voxtune.engine.jobs.job import DEFAULT_MODEL, Job, JobSpec
from voxtune.engine.subtitles.rules import DEFAULT_RULES, SubtitleRules
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.tune.events import DataChecked, TuneEstimate, TuneEvent, TuneFinished
from voxtune.engine.types import Segment, Transcript, TranscriptionOptions, Word

PROTOCOL_VERSION = 1


@dataclass(frozen=True, slots=True)
class Message:
    kind: ClassVar[str] = "message"
    seq: int = field(default=0, kw_only=True)  # numbered by the sender, one count per queue
    version: int = field(default=PROTOCOL_VERSION, kw_only=True)


@dataclass(frozen=True, slots=True)
class Command(Message):
    """UI/CLI → engine."""


@dataclass(frozen=True, slots=True)
class Event(Message):
    """Engine → UI/CLI."""


# -- commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ping(Command):
    kind: ClassVar[str] = "ping"


@dataclass(frozen=True, slots=True)
class LoadModel(Command):
    """Load (or import once, then load) a model, so the first job does not wait for it."""

    kind: ClassVar[str] = "load_model"
    name: str = DEFAULT_MODEL


@dataclass(frozen=True, slots=True)
class SubmitJob(Command):
    """Queue a transcription; a spec submitted before is the same job (see JobStore.submit)."""

    kind: ClassVar[str] = "submit_job"
    spec: JobSpec
    priority: int = 0


@dataclass(frozen=True, slots=True)
class CancelJob(Command):
    kind: ClassVar[str] = "cancel_job"
    job_id: int


@dataclass(frozen=True, slots=True)
class RetryJob(Command):
    """Queue a failed or cancelled job again; it resumes from its persisted segments."""

    kind: ClassVar[str] = "retry_job"
    job_id: int


@dataclass(frozen=True, slots=True)
class RerunJob(Command):
    """Run a finished job again from the start, with other options or model if given."""

    kind: ClassVar[str] = "rerun_job"
    job_id: int
    options: TranscriptionOptions | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class StartLive(Command):
    """Transcribe the microphone; the engine answers with LiveUpdate events."""

    kind: ClassVar[str] = "start_live"
    model: str = DEFAULT_MODEL
    options: TranscriptionOptions = field(default_factory=TranscriptionOptions)
    device: str | int | None = None  # a sounddevice input; None: the system default
    file: str | None = None  # play this file as if it were the microphone instead
    speed: float | None = 1.0  # with ``file``: 1.0 real time, 4.0 four times, None unpaced
    aligner: str | None = None  # a forced aligner's name or folder; "none": none; None: default
    step_seconds: float = 1.0  # audio between decodes, as ``voxtune live --step``


@dataclass(frozen=True, slots=True)
class StopLive(Command):
    kind: ClassVar[str] = "stop_live"


@dataclass(frozen=True, slots=True)
class Shutdown(Command):
    """Stop: a running job goes back to the queue at its next segment, then the engine exits."""

    kind: ClassVar[str] = "shutdown"


@dataclass(frozen=True, slots=True)
class ListJobs(Command):
    """The queue as the job store has it; answered by JobsListed (the UI never opens it)."""

    kind: ClassVar[str] = "list_jobs"


@dataclass(frozen=True, slots=True)
class ListModels(Command):
    """Answered by ModelsListed."""

    kind: ClassVar[str] = "list_models"


@dataclass(frozen=True, slots=True)
class ImportModel(Command):
    """Import a CTranslate2 Whisper or Qwen3-ASR folder on a worker; ModelsChanged when done."""

    kind: ClassVar[str] = "import_model"
    path: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PullModel(Command):
    """Download a Hub model on a worker, with ModelProgress; ModelsChanged when done."""

    kind: ClassVar[str] = "pull_model"
    repo_id: str


@dataclass(frozen=True, slots=True)
class RemoveModel(Command):
    """Delete an imported or registered model's folder; built-in and Hub models cannot be."""

    kind: ClassVar[str] = "remove_model"
    name: str


@dataclass(frozen=True, slots=True)
class CancelModelTask(Command):
    """Stop the running pull (``task``: its PullModel's seq) and delete its partial files;
    it ends with ModelsChanged(action="cancelled")."""

    kind: ClassVar[str] = "cancel_model_task"
    task: int


@dataclass(frozen=True, slots=True)
class ListDevices(Command):
    """Answered by DevicesListed; from then on the engine re-lists input devices every few
    seconds (PulseAudio/PipeWire may appear later) and sends DevicesListed on a change."""

    kind: ClassVar[str] = "list_devices"


@dataclass(frozen=True, slots=True)
class SaveLive(Command):
    """Write the live transcript's committed words (this session or the last) to
    ``output_dir/stem.<format>``; answered by LiveSaved."""

    kind: ClassVar[str] = "save_live"
    output_dir: str
    stem: str
    formats: tuple[str, ...] = ("txt",)
    rules: SubtitleRules = DEFAULT_RULES
    # The editor's corrected segments: written instead of the words heard, and kept for the
    # next OpenLive. None: the committed words as heard.
    segments: tuple[Segment, ...] | None = None


LIVE_TRANSCRIPT_ID = 0  # the job_id a TranscriptOpened carries for the live transcript


@dataclass(frozen=True, slots=True)
class OpenLive(Command):
    """The live transcript (this session or the last) for the editor, cut into sentences;
    answered by TranscriptOpened with job_id LIVE_TRANSCRIPT_ID and the file it heard, if any."""

    kind: ClassVar[str] = "open_live"


@dataclass(frozen=True, slots=True)
class ClearLive(Command):
    """Forget the committed words kept for SaveLive (the UI's Clear)."""

    kind: ClassVar[str] = "clear_live"


@dataclass(frozen=True, slots=True)
class StartTune(Command):
    """Fine-tune on an engine worker; TuneProgress while it runs, TuneResult at the end."""

    kind: ClassVar[str] = "start_tune"
    config: TuneConfig


@dataclass(frozen=True, slots=True)
class StopTune(Command):
    """Stop the running tune after its current step and save the best weights so far; it ends
    with TuneResult(stopped=True) and their summary."""

    kind: ClassVar[str] = "stop_tune"


@dataclass(frozen=True, slots=True)
class CheckTuneData(Command):
    """Check every row of ``config``'s data (and validation) set; TuneDataReport answers."""

    kind: ClassVar[str] = "check_tune_data"
    config: TuneConfig


@dataclass(frozen=True, slots=True)
class EstimateTune(Command):
    """Measure what ``config`` would cost here (time, memory, disk); TuneEstimated answers."""

    kind: ClassVar[str] = "estimate_tune"
    config: TuneConfig


@dataclass(frozen=True, slots=True)
class OpenTranscript(Command):
    """A finished job's transcript for the editor (its saved edits if any); answered by
    TranscriptOpened. The UI never opens the job store itself."""

    kind: ClassVar[str] = "open_transcript"
    job_id: int


@dataclass(frozen=True, slots=True)
class SaveTranscript(Command):
    """Keep the editor's segments in the job store as the job's edits, then write the job's
    outputs again from them (``formats``, or the job's own) with the job's subtitle rules;
    answered by TranscriptSaved."""

    kind: ClassVar[str] = "save_transcript"
    job_id: int
    segments: tuple[Segment, ...]
    formats: tuple[str, ...] = ()  # empty: the formats the job was run with


@dataclass(frozen=True, slots=True)
class PlayAudio(Command):
    """Play ``path`` from ``start`` to ``end`` (seconds; None: to its end) on the default
    output device. The engine plays because the UI's Qt has no QtMultimedia (PySide6-
    Essentials); PlaybackPosition while it plays, PlaybackStopped at the end."""

    kind: ClassVar[str] = "play_audio"
    path: str
    start: float = 0.0
    end: float | None = None


@dataclass(frozen=True, slots=True)
class StopAudio(Command):
    kind: ClassVar[str] = "stop_audio"


@dataclass(frozen=True, slots=True)
class ClearJobs(Command):
    """Forget finished jobs (done, failed, cancelled); answered by JobsListed."""

    kind: ClassVar[str] = "clear_jobs"


@dataclass(frozen=True, slots=True)
class StartRecording(Command):
    """Record the microphone (``device``; None: the default input) into ``path``, a 16 kHz
    mono wav, until StopRecording: RecordingLevel for the meter while it records, then
    RecordingSaved with the take's length and what is wrong with it (clipping, silence, too
    short). The wizard's recording step; one recording at a time."""

    kind: ClassVar[str] = "start_recording"
    path: str
    device: str | int | None = None


@dataclass(frozen=True, slots=True)
class StopRecording(Command):
    kind: ClassVar[str] = "stop_recording"


@dataclass(frozen=True, slots=True)
class ExportModel(Command):
    """Export ``model`` (a name or folder; with ``adapter`` merged) as ``format`` (a name of
    ``voxtune.engine.export.formats.EXPORT_FORMATS``) into ``out``, verified the way
    ``voxtune export`` verifies it; ExportDone answers."""

    kind: ClassVar[str] = "export_model"
    format: str
    out: str
    model: str | None = None
    adapter: str | None = None


# -- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngineReady(Event):
    """The engine process is up and reads commands (models load later, on demand)."""

    kind: ClassVar[str] = "engine_ready"
    pid: int


@dataclass(frozen=True, slots=True)
class Heartbeat(Event):
    """Sent every ``EngineConfig.heartbeat_s``; a client that misses them declares death."""

    kind: ClassVar[str] = "heartbeat"
    pid: int
    job_id: int | None = None  # the job being transcribed, if any


@dataclass(frozen=True, slots=True)
class Pong(Event):
    kind: ClassVar[str] = "pong"
    reply_to: int


@dataclass(frozen=True, slots=True)
class ModelLoaded(Event):
    kind: ClassVar[str] = "model_loaded"
    name: str
    family: str
    languages: tuple[str, ...]
    size_bytes: int
    location: str
    source: str
    reply_to: int = 0  # seq of the LoadModel, or 0 when a job needed the model


@dataclass(frozen=True, slots=True)
class JobQueued(Event):
    """Answer to SubmitJob / RetryJob / RerunJob: the job as stored (maybe already done)."""

    kind: ClassVar[str] = "job_queued"
    job: Job
    reply_to: int = 0

    @property
    def job_id(self) -> int:
        return self.job.id


@dataclass(frozen=True, slots=True)
class JobStarted(Event):
    kind: ClassVar[str] = "job_started"
    job_id: int
    resume_from: float = 0.0  # seconds already transcribed by an engine before this one
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class JobProgress(Event):
    kind: ClassVar[str] = "job_progress"
    job_id: int
    fraction: float  # of the job's audio, in [0, 1]
    eta_s: float | None  # None until there is a rate to estimate from
    audio_done_s: float


@dataclass(frozen=True, slots=True)
class SegmentReady(Event):
    kind: ClassVar[str] = "segment_ready"
    job_id: int
    segment: Segment


@dataclass(frozen=True, slots=True)
class JobDone(Event):
    kind: ClassVar[str] = "job_done"
    job_id: int
    outputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JobFailed(Event):
    kind: ClassVar[str] = "job_failed"
    job_id: int
    message: str  # one line naming the file and the problem
    retryable: bool = True


@dataclass(frozen=True, slots=True)
class JobCancelled(Event):
    kind: ClassVar[str] = "job_cancelled"
    job_id: int


@dataclass(frozen=True, slots=True)
class EngineError(Event):
    """A command that could not be carried out, or trouble not tied to one job."""

    kind: ClassVar[str] = "engine_error"
    message: str  # one line
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class Log(Event):
    kind: ClassVar[str] = "log"
    level: str  # "debug" | "info" | "warning" | "error"
    message: str  # may span lines (a traceback, for the log file)


@dataclass(frozen=True, slots=True)
class LiveStarted(Event):
    kind: ClassVar[str] = "live_started"
    sample_rate: int
    device: str


@dataclass(frozen=True, slots=True)
class LiveUpdate(Event):
    """Streaming state: ``committed`` words are appended for good; ``partial`` words replace
    the previous update's partial tail. Sent only when something changed."""

    kind: ClassVar[str] = "live_update"
    committed: tuple[Word, ...]
    partial: tuple[Word, ...]


@dataclass(frozen=True, slots=True)
class LiveLevel(Event):
    """The input level for a meter, about ten times a second while live."""

    kind: ClassVar[str] = "live_level"
    dbfs: float


@dataclass(frozen=True, slots=True)
class LiveStopped(Event):
    kind: ClassVar[str] = "live_stopped"
    error: str | None = None  # one line when the stream stopped on a problem


@dataclass(frozen=True, slots=True)
class JobsListed(Event):
    kind: ClassVar[str] = "jobs_listed"
    jobs: tuple[Job, ...]
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model as a listing shows it (payload of ModelsListed / ModelsChanged)."""

    name: str
    family: str
    languages: tuple[str, ...]
    size_bytes: int  # on disk; 0: not imported or downloaded yet
    location: str
    source: str  # "embedded" | "imported" | "hub" | "local" | "adapter" …
    removable: bool = False  # an imported or registered folder of Voxtune's own
    download_bytes: int = 0  # a Hub model not in the cache yet: what pulling it fetches


@dataclass(frozen=True, slots=True)
class ModelsListed(Event):
    kind: ClassVar[str] = "models_listed"
    models: tuple[ModelEntry, ...]
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class ModelProgress(Event):
    """A long model task (import, pull, load) is moving: bytes written so far."""

    kind: ClassVar[str] = "model_progress"
    task: str  # "import" | "pull" | "load"
    name: str
    done_bytes: int
    total_bytes: int | None = None  # None when the source does not say
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class ModelsChanged(Event):
    """An import, pull or removal finished: the new listing, and what changed."""

    kind: ClassVar[str] = "models_changed"
    models: tuple[ModelEntry, ...]
    changed: str  # the model's name
    action: str  # "imported" | "pulled" | "removed" | "cancelled"
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class InputDeviceEntry:
    index: int
    name: str
    host_api: str
    channels: int
    is_default: bool


@dataclass(frozen=True, slots=True)
class DevicesListed(Event):
    """Input devices; sent on ListDevices and whenever the list changes."""

    kind: ClassVar[str] = "devices_listed"
    devices: tuple[InputDeviceEntry, ...]
    error: str | None = None  # one line when listing failed (no PortAudio, …)
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class LiveSaved(Event):
    kind: ClassVar[str] = "live_saved"
    paths: tuple[str, ...]
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class TuneProgress(Event):
    """One event of the running tune as ``voxtune.engine.tune.events`` has it: DataChecked,
    TuneStarted, StepDone (step, loss, ETA), EvalDone (WER) or CheckpointSaved."""

    kind: ClassVar[str] = "tune_progress"
    update: TuneEvent
    reply_to: int = 0  # seq of the StartTune


@dataclass(frozen=True, slots=True)
class TuneResult(Event):
    """The tune ended: finished (``summary``), stopped, or failed (``error``)."""

    kind: ClassVar[str] = "tune_result"
    summary: TuneFinished | None = None
    stopped: bool = False
    error: str | None = None
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class TuneDataReport(Event):
    """The rows that can be trained on, and each bad one with its row and reason; or why the
    data set cannot be read at all (``error``)."""

    kind: ClassVar[str] = "tune_data_report"
    checked: DataChecked | None = None
    error: str | None = None
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class TranscriptOpened(Event):
    kind: ClassVar[str] = "transcript_opened"
    job_id: int
    transcript: Transcript
    audio_path: str
    edited: bool = False  # the segments are the user's saved edits, not the model's
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class TuneEstimated(Event):
    """The pre-flight estimate of a tune (``estimate``), or why none could be made."""

    kind: ClassVar[str] = "tune_estimated"
    estimate: TuneEstimate | None = None
    error: str | None = None
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class TranscriptSaved(Event):
    kind: ClassVar[str] = "transcript_saved"
    job_id: int
    outputs: tuple[str, ...]
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class PlaybackPosition(Event):
    """Where playback is, in seconds of the file, about twenty times a second."""

    kind: ClassVar[str] = "playback_position"
    seconds: float


@dataclass(frozen=True, slots=True)
class PlaybackStopped(Event):
    kind: ClassVar[str] = "playback_stopped"
    error: str | None = None  # one line when it could not play (no output device, …)


@dataclass(frozen=True, slots=True)
class RecordingLevel(Event):
    """The input level while recording, about ten times a second."""

    kind: ClassVar[str] = "recording_level"
    dbfs: float


@dataclass(frozen=True, slots=True)
class RecordingSaved(Event):
    """A take was written to ``path`` (or not: ``error``); ``warnings``, one line each, say
    why it may be a poor one to tune on."""

    kind: ClassVar[str] = "recording_saved"
    path: str
    seconds: float = 0.0
    peak_dbfs: float = -120.0
    warnings: tuple[str, ...] = ()
    error: str | None = None
    reply_to: int = 0  # seq of the StartRecording


@dataclass(frozen=True, slots=True)
class ExportDone(Event):
    """An export ended: its folder and verification (``report``), or why it failed."""

    kind: ClassVar[str] = "export_done"
    format: str
    out: str
    report: ExportSummary | None = None
    error: str | None = None
    reply_to: int = 0


@dataclass(frozen=True, slots=True)
class EngineDied(Event):
    """Made by the client, not the engine: the process exited or stopped answering.

    The jobs it was running are requeued by the next engine, which resumes them.
    """

    kind: ClassVar[str] = "engine_died"
    reason: str  # one line
    exitcode: int | None = None
    job_ids: tuple[int, ...] = ()


COMMANDS: tuple[type[Command], ...] = (
    Ping, LoadModel, SubmitJob, CancelJob, RetryJob, RerunJob, StartLive, StopLive, Shutdown,
    ListJobs, ListModels, ImportModel, PullModel, RemoveModel, ListDevices, SaveLive, ClearLive,
    StartTune, StopTune, CheckTuneData, EstimateTune, OpenTranscript, SaveTranscript, PlayAudio,
    StopAudio, ClearJobs, StartRecording, StopRecording, ExportModel,
)  # fmt: skip
EVENTS: tuple[type[Event], ...] = (
    EngineReady, Heartbeat, Pong, ModelLoaded, JobQueued, JobStarted, JobProgress, SegmentReady,
    JobDone, JobFailed, JobCancelled, EngineError, Log, LiveStarted, LiveUpdate, LiveLevel,
    LiveStopped, EngineDied, JobsListed, ModelsListed, ModelProgress, ModelsChanged,
    DevicesListed, LiveSaved, TuneProgress, TuneResult, TuneDataReport, TuneEstimated,
    TranscriptOpened, TranscriptSaved, PlaybackPosition, PlaybackStopped, RecordingLevel,
    RecordingSaved, ExportDone,
)  # fmt: skip
