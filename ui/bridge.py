"""The one place the UI meets the engine: ``EngineClient`` events become Qt signals.

The client is polled from a QTimer on the GUI thread, so every signal is emitted there and
widgets need no locks. When the engine dies the bridge says why, then starts a new one after
``restart_delay_ms``; the new engine finds the jobs the old one was running in the job store
and resumes them.

The bridge owns the torch-free ``EngineClient``; every UI action is a protocol command sent
from here (the UI never opens the job store, lists devices or runs a CLI), and every event
the engine sends becomes a signal — its ``Log`` events too, for the app's log.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal

from voxtune.engine import protocol as p
from voxtune.engine.client import EngineClient, EngineGone
from voxtune.engine.config import EngineConfig
from voxtune.engine.home import jobs_db
from voxtune.engine.jobs.job import JobSpec
from voxtune.engine.subtitles.rules import DEFAULT_RULES, SubtitleRules
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.types import Segment, TranscriptionOptions

POLL_MS = 50
MAX_EVENTS_PER_TICK = 200  # keeps the GUI responsive when the engine floods it
# An engine that dies this many times in a row before saying it is ready cannot start here
# (a broken install, say): restarting it forever would only hide that.
MAX_FAILED_STARTS = 3


class EngineBridge(QObject):
    engine_ready = Signal(int)  # pid
    engine_died = Signal(str, tuple)  # reason, ids of the jobs it was running
    engine_restarted = Signal()
    engine_error = Signal(str)
    engine_gave_up = Signal(str)  # it keeps dying before it is ready: no more restarts
    jobs_loaded = Signal(list)  # list[Job], as the job store has them
    job_queued = Signal(object)  # Job
    job_started = Signal(int, object)  # job id, duration (seconds) or None
    job_progress = Signal(int, float, object)  # job id, fraction, ETA (seconds) or None
    job_done = Signal(int, tuple)  # job id, output paths
    job_failed = Signal(int, str, bool)  # job id, one-line message, retryable
    job_cancelled = Signal(int)
    model_loaded = Signal(object)  # protocol.ModelLoaded
    live_started = Signal(str)  # device name
    live_update = Signal(tuple, tuple)  # committed words (append), partial words (replace)
    live_level = Signal(float)  # input level, dBFS
    live_stopped = Signal(object)  # one-line error or None
    segment_ready = Signal(int, object)  # job id, Segment
    models_listed = Signal(tuple)  # tuple[protocol.ModelEntry, ...]
    models_changed = Signal(tuple, str, str)  # new listing, model name, "imported" | …
    model_progress = Signal(object)  # protocol.ModelProgress
    devices_listed = Signal(tuple, object)  # tuple[protocol.InputDeviceEntry, ...], error
    live_saved = Signal(tuple)  # paths written
    tune_progress = Signal(object)  # a voxtune.engine.tune.events event (step, eval, …)
    tune_result = Signal(object)  # protocol.TuneResult
    tune_data_checked = Signal(object)  # protocol.TuneDataReport
    tune_estimated = Signal(object)  # protocol.TuneEstimated
    transcript_opened = Signal(object)  # protocol.TranscriptOpened
    transcript_saved = Signal(int, tuple)  # job id, output paths written again
    playback_position = Signal(float)  # seconds into the file being played
    playback_stopped = Signal(object)  # one-line error or None
    recording_level = Signal(float)  # input level while recording a take, dBFS
    recording_saved = Signal(object)  # protocol.RecordingSaved
    export_done = Signal(object)  # protocol.ExportDone
    log_message = Signal(str, str)  # level, message (may span lines: a traceback)
    event_received = Signal(object)  # every event, for logs and tests

    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        restart_delay_ms: int = 1000,
        heartbeat_timeout_s: float = 10.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.config = config or EngineConfig(db_path=str(jobs_db()))
        self.client = EngineClient(self.config, heartbeat_timeout_s=heartbeat_timeout_s)
        self.restart_delay_ms = restart_delay_ms
        self.restarts = 0
        self._failed_starts = 0
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.client.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.client.stop()

    def restart(self) -> None:
        self.restarts += 1
        self.client.restart()
        self._timer.start()
        self.engine_restarted.emit()

    def set_engine(self, device: str, backend: str) -> None:
        """Use ``device`` ("cpu" | "cuda") and ``backend`` ("torch" | "onnx") from the next
        engine start on."""
        self.config = replace(self.config, device=device, backend=backend)
        self.client.config = self.config

    def set_cluster(self, address: str) -> None:
        """Run jobs on the Ray cluster at ``address`` ("": here) from the next engine start."""
        self.config = replace(self.config, cluster=address or None)
        self.client.config = self.config

    @property
    def alive(self) -> bool:
        return self.client.alive

    @property
    def pid(self) -> int | None:
        return self.client.pid

    def refresh_jobs(self) -> int | None:
        """Ask the engine for the queue; ``jobs_loaded`` brings it."""
        return self._send(p.ListJobs())

    # -- commands -----------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> int | None:
        return self._send(p.SubmitJob(spec=spec))

    def cancel(self, job_id: int) -> int | None:
        return self._send(p.CancelJob(job_id=job_id))

    def retry(self, job_id: int) -> int | None:
        return self._send(p.RetryJob(job_id=job_id))

    def rerun(
        self, job_id: int, options: TranscriptionOptions | None = None, model: str | None = None
    ) -> int | None:
        """Run a job again from the start with ``options``/``model`` (a new job if they differ)."""
        return self._send(p.RerunJob(job_id=job_id, options=options, model=model))

    def load_model(self, name: str) -> int | None:
        return self._send(p.LoadModel(name=name))

    def start_live(
        self,
        model: str,
        options: TranscriptionOptions,
        device: str | int | None,
        file: str | None = None,
        speed: float | None = 1.0,
    ) -> int | None:
        """Listen to ``device``, or play ``file`` as if it were the microphone at ``speed``."""
        command = p.StartLive(model=model, options=options, device=device, file=file, speed=speed)
        return self._send(command)

    def stop_live(self) -> int | None:
        return self._send(p.StopLive())

    def save_live(
        self,
        output_dir: str,
        stem: str,
        formats: tuple[str, ...],
        rules: SubtitleRules = DEFAULT_RULES,
        segments: tuple[Segment, ...] | None = None,
    ) -> int | None:
        """Write the live transcript; ``segments``: the editor's corrections instead."""
        command = p.SaveLive(
            output_dir=output_dir, stem=stem, formats=formats, rules=rules, segments=segments
        )
        return self._send(command)

    def open_live(self) -> int | None:
        """Ask for the live transcript; ``transcript_opened`` brings it (job id 0)."""
        return self._send(p.OpenLive())

    def clear_live(self) -> int | None:
        return self._send(p.ClearLive())

    def list_models(self) -> int | None:
        return self._send(p.ListModels())

    def import_model(self, path: str, name: str | None = None) -> int | None:
        return self._send(p.ImportModel(path=path, name=name))

    def pull_model(self, repo_id: str) -> int | None:
        return self._send(p.PullModel(repo_id=repo_id))

    def remove_model(self, name: str) -> int | None:
        return self._send(p.RemoveModel(name=name))

    def cancel_model_task(self, task: int) -> int | None:
        """Stop the pull sent as ``task`` (its seq); ``models_changed`` says "cancelled"."""
        return self._send(p.CancelModelTask(task=task))

    def list_devices(self) -> int | None:
        return self._send(p.ListDevices())

    def start_tune(self, config: TuneConfig) -> int | None:
        return self._send(p.StartTune(config=config))

    def stop_tune(self) -> int | None:
        return self._send(p.StopTune())

    def check_tune_data(self, config: TuneConfig) -> int | None:
        return self._send(p.CheckTuneData(config=config))

    def estimate_tune(self, config: TuneConfig) -> int | None:
        return self._send(p.EstimateTune(config=config))

    def open_transcript(self, job_id: int) -> int | None:
        """Ask for a finished job's transcript; ``transcript_opened`` brings it."""
        return self._send(p.OpenTranscript(job_id=job_id))

    def save_transcript(
        self, job_id: int, segments: tuple[Segment, ...], formats: tuple[str, ...] = ()
    ) -> int | None:
        """Keep edits in the job store and write the outputs again; ``transcript_saved``."""
        return self._send(p.SaveTranscript(job_id=job_id, segments=segments, formats=formats))

    def play_audio(self, path: str, start: float = 0.0, end: float | None = None) -> int | None:
        return self._send(p.PlayAudio(path=path, start=start, end=end))

    def stop_audio(self) -> int | None:
        return self._send(p.StopAudio())

    def clear_jobs(self) -> int | None:
        """Forget finished jobs; ``jobs_loaded`` brings what is left."""
        return self._send(p.ClearJobs())

    def start_recording(self, path: str, device: str | int | None = None) -> int | None:
        """Record a take into ``path`` until ``stop_recording``; ``recording_saved`` ends it."""
        return self._send(p.StartRecording(path=path, device=device))

    def stop_recording(self) -> int | None:
        return self._send(p.StopRecording())

    def export_model(
        self, format: str, out: str, model: str | None, adapter: str | None = None
    ) -> int | None:
        """Export and verify ``model`` as ``format``; ``export_done`` brings the numbers."""
        return self._send(p.ExportModel(format=format, out=out, model=model, adapter=adapter))

    def _send(self, command: p.Command) -> int | None:
        try:
            return self.client.send(command)
        except EngineGone as exc:
            self.engine_error.emit(str(exc))
            return None

    # -- events -------------------------------------------------------------------------

    def poll(self) -> None:
        for _ in range(MAX_EVENTS_PER_TICK):
            event = self.client.next_event(timeout=0)
            if event is None:
                return
            self.dispatch(event)

    def dispatch(self, event: p.Event) -> None:
        """Turn one event into its signal (public: a test may feed events it made itself)."""
        self.event_received.emit(event)
        match event:
            case p.EngineReady(pid=pid):
                self._failed_starts = 0
                self.engine_ready.emit(pid)
            case p.EngineDied(reason=reason, job_ids=job_ids):
                self.log_message.emit("error", f"engine died: {reason}")
                self._timer.stop()
                self.engine_died.emit(reason, tuple(job_ids))
                self._failed_starts += 1
                if self._failed_starts < MAX_FAILED_STARTS:
                    QTimer.singleShot(self.restart_delay_ms, self.restart)
                else:
                    self.engine_gave_up.emit(f"The engine could not be started: {reason}.")
            case p.EngineError(message=message):
                self.log_message.emit("error", message)
                self.engine_error.emit(message)
            case p.Log(level=level, message=message):
                self.log_message.emit(level, message)
            case p.JobQueued(job=job):
                self.job_queued.emit(job)
            case p.JobStarted(job_id=job_id, duration=duration):
                self.job_started.emit(job_id, duration)
            case p.JobProgress(job_id=job_id, fraction=fraction, eta_s=eta):
                self.job_progress.emit(job_id, fraction, eta)
            case p.JobDone(job_id=job_id, outputs=outputs):
                self.job_done.emit(job_id, tuple(outputs))
            case p.JobFailed(job_id=job_id, message=message, retryable=retryable):
                self.job_failed.emit(job_id, message, retryable)
            case p.JobCancelled(job_id=job_id):
                self.job_cancelled.emit(job_id)
            case p.ModelLoaded():
                self.model_loaded.emit(event)
            case p.LiveStarted(device=device):
                self.live_started.emit(device)
            case p.LiveUpdate(committed=committed, partial=partial):
                self.live_update.emit(tuple(committed), tuple(partial))
            case p.LiveLevel(dbfs=dbfs):
                self.live_level.emit(dbfs)
            case p.LiveStopped(error=error):
                self.live_stopped.emit(error)
            case p.SegmentReady(job_id=job_id, segment=segment):
                self.segment_ready.emit(job_id, segment)
            case p.JobsListed(jobs=jobs):
                self.jobs_loaded.emit(list(jobs))
            case p.ModelsListed(models=models):
                self.models_listed.emit(tuple(models))
            case p.ModelsChanged(models=models, changed=name, action=action):
                self.models_changed.emit(tuple(models), name, action)
            case p.ModelProgress():
                self.model_progress.emit(event)
            case p.DevicesListed(devices=devices, error=error):
                self.devices_listed.emit(tuple(devices), error)
            case p.LiveSaved(paths=paths):
                self.live_saved.emit(tuple(paths))
            case p.TuneProgress(update=update):
                self.tune_progress.emit(update)
            case p.TuneResult():
                self.tune_result.emit(event)
            case p.TuneDataReport():
                self.tune_data_checked.emit(event)
            case p.TuneEstimated():
                self.tune_estimated.emit(event)
            case p.TranscriptOpened():
                self.transcript_opened.emit(event)
            case p.TranscriptSaved(job_id=job_id, outputs=outputs):
                self.transcript_saved.emit(job_id, tuple(outputs))
            case p.PlaybackPosition(seconds=seconds):
                self.playback_position.emit(seconds)
            case p.PlaybackStopped(error=error):
                self.playback_stopped.emit(error)
            case p.RecordingLevel(dbfs=dbfs):
                self.recording_level.emit(dbfs)
            case p.RecordingSaved():
                self.recording_saved.emit(event)
            case p.ExportDone():
                self.export_done.emit(event)
