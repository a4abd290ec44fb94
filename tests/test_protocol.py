"""The protocol: small frozen messages with a kind, a version and a seq; torch-free."""

from __future__ import annotations

import dataclasses
import json
import pickle
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from voxtune.engine import protocol as p
from voxtune.engine.export.formats import ExportSummary
from voxtune.engine.jobs import Job, JobSpec, JobState
from voxtune.engine.subtitles.rules import SubtitleRules
from voxtune.engine.tune.config import TuneConfig
from voxtune.engine.tune.events import (
    BadRow,
    DataChecked,
    EvalDone,
    StepDone,
    TuneEstimate,
    TuneFinished,
)
from voxtune.engine.types import Segment, Transcript, TranscriptionOptions, Word

WORD = Word(" hello", 0.5, 0.9, 0.87)
SEGMENT = Segment(0.5, 1.5, " hello there", (WORD, Word(" there", 0.9, 1.5, 0.5)), "en")
SPEC = JobSpec.for_file(
    "speech.ogg", "out", ("vtt", "srt"), options=TranscriptionOptions(beam_size=2)
)
JOB = Job(id=7, spec=SPEC, state=JobState.QUEUED, duration=3.5)
ENTRY = p.ModelEntry("my-asr", "whisper", ("en",), 75_000_000, "/models/my-asr", "imported", True)
DEVICE = p.InputDeviceEntry(index=2, name="pulse", host_api="ALSA", channels=32, is_default=True)
TRANSCRIPT = Transcript(segments=(SEGMENT,), language="en", duration=3.5, model="whisper-tiny.en")
FINISHED = TuneFinished(steps=4, stopped_early=False, best_step=4, wer_before=0.5,
                        wer_after=0.25, adapter="/tune/adapter")  # fmt: skip

# One instance of every message, filled with real payloads.
SAMPLES: list[p.Message] = [
    p.Ping(),
    p.LoadModel(name="whisper-tiny.en"),
    p.SubmitJob(spec=SPEC, priority=2),
    p.CancelJob(job_id=7),
    p.RetryJob(job_id=7),
    p.RerunJob(job_id=7, options=TranscriptionOptions(beam_size=1), model="whisper-base"),
    p.StartLive(device=3),
    p.StopLive(),
    p.Shutdown(),
    p.EngineReady(pid=123),
    p.Heartbeat(pid=123, job_id=7),
    p.Pong(reply_to=4),
    p.ModelLoaded(
        name="whisper-tiny.en",
        family="whisper",
        languages=("en",),
        size_bytes=1,
        location="/models/whisper-tiny.en",
        source="embedded",
    ),
    p.JobQueued(job=JOB, reply_to=3),
    p.JobStarted(job_id=7, resume_from=12.5, duration=40.0),
    p.JobProgress(job_id=7, fraction=0.5, eta_s=3.0, audio_done_s=20.0),
    p.SegmentReady(job_id=7, segment=SEGMENT),
    p.JobDone(job_id=7, outputs=("/out/speech.srt",)),
    p.JobFailed(job_id=7, message="speech.ogg: corrupt or truncated audio", retryable=False),
    p.JobCancelled(job_id=7),
    p.EngineError(message="no job 9", reply_to=5),
    p.Log(level="warning", message="a damaged packet was skipped"),
    p.LiveStarted(sample_rate=16000, device="pulse"),
    p.LiveUpdate(committed=(WORD,), partial=(Word(" wor", 1.0, 1.2, 0.3),)),
    p.LiveLevel(dbfs=-23.5),
    p.LiveStopped(error=None),
    p.EngineDied(reason="the engine was killed (signal 9)", exitcode=-9, job_ids=(7,)),
    p.ListJobs(),
    p.ListModels(),
    p.ImportModel(path="/copies/my-asr", name="my-asr"),
    p.PullModel(repo_id="openai/whisper-small"),
    p.RemoveModel(name="my-asr"),
    p.ListDevices(),
    p.SaveLive(
        output_dir="/out",
        stem="dictation",
        formats=("srt", "txt"),
        rules=SubtitleRules(max_line_chars=32),
    ),
    p.ClearLive(),
    p.StartTune(config=TuneConfig(data=Path("/clips"), out=Path("/tune"), max_steps=4)),
    p.StopTune(),
    p.JobsListed(jobs=(JOB,), reply_to=2),
    p.ModelsListed(models=(ENTRY,), reply_to=3),
    p.ModelProgress(task="pull", name="openai/whisper-small", done_bytes=10, total_bytes=None),
    p.ModelsChanged(models=(ENTRY,), changed="my-asr", action="imported", reply_to=4),
    p.DevicesListed(devices=(DEVICE,)),
    p.LiveSaved(paths=("/out/dictation.srt",), reply_to=5),
    p.TuneProgress(update=StepDone(3, 4, 0.5, 1.25, 1e-4, 8.0, 2.5), reply_to=6),
    p.TuneProgress(update=EvalDone(step=4, wer=0.25, label="after")),
    p.TuneResult(summary=FINISHED, reply_to=6),
    p.CheckTuneData(config=TuneConfig(data=Path("/clips"), out=Path("/tune"))),
    p.EstimateTune(config=TuneConfig(data=Path("/clips"), out=Path("/tune"), batch_size=4)),
    p.TuneDataReport(
        checked=DataChecked(9, 1, (BadRow("data.tsv: row 4", "empty transcript"),)), reply_to=7
    ),
    p.TuneDataReport(error="/clips: data set not found"),
    p.TuneEstimated(
        estimate=TuneEstimate(
            total_steps=20,
            step_seconds=1.5,
            seconds=40.0,
            peak_memory_bytes=2 << 30,
            available_memory_bytes=8 << 30,
            disk_bytes=1 << 20,
            free_disk_bytes=1 << 36,
            device="cpu",
            warnings=(),
        ),
        reply_to=8,
    ),
    # The transcript editor's messages (issue 18).
    p.OpenTranscript(job_id=7),
    p.TranscriptOpened(job_id=7, transcript=TRANSCRIPT, audio_path="/in/speech.ogg", edited=True),
    p.SaveTranscript(job_id=7, segments=(SEGMENT,), formats=("srt", "json")),
    p.TranscriptSaved(job_id=7, outputs=("/out/speech.srt",), reply_to=8),
    p.PlayAudio(path="/in/speech.ogg", start=0.5, end=1.5),
    p.StopAudio(),
    p.PlaybackPosition(seconds=0.75),
    p.PlaybackStopped(error="no output device"),
    p.ClearJobs(),
    # The tuning wizard's recording step and its exports (issue 15).
    p.StartRecording(path="/voice/take-001.wav", device="pulse"),
    p.StopRecording(),
    p.RecordingLevel(dbfs=-21.5),
    p.RecordingSaved(
        path="/voice/take-001.wav",
        seconds=0.4,
        peak_dbfs=-8.0,
        warnings=("too short: 0.3 s of sound; read the whole sentence",),
        reply_to=3,
    ),
    p.ExportModel(format="onnx", out="/exports/tuned", model="whisper-tiny.en", adapter="/a"),
    p.ExportDone(
        format="onnx",
        out="/exports/tuned",
        reply_to=4,
        report=ExportSummary(
            wer_source=0.1,
            wer_export=0.11,
            export_bytes=150_000_000,
            source_bytes=151_000_000,
            rtf_source=0.2,
            rtf_export=0.1,
            quantisation="float32",
            manifest="/m.tsv",
        ),
    ),
]


def test_every_message_is_sampled_once() -> None:
    sampled = list(dict.fromkeys(type(m) for m in SAMPLES))
    assert sorted(c.__name__ for c in sampled) == sorted(
        c.__name__ for c in (*p.COMMANDS, *p.EVENTS)
    )


def test_kinds_are_unique_and_split_commands_from_events() -> None:
    kinds = [c.kind for c in (*p.COMMANDS, *p.EVENTS)]
    assert len(set(kinds)) == len(kinds)
    assert all(k and k != "message" for k in kinds)
    assert all(issubclass(c, p.Command) for c in p.COMMANDS)
    assert all(issubclass(c, p.Event) for c in p.EVENTS)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.kind)
def test_messages_cross_a_process_boundary_unchanged(message: p.Message) -> None:
    numbered = dataclasses.replace(message, seq=41)
    copy = pickle.loads(pickle.dumps(numbered))
    assert copy == numbered
    assert copy.seq == 41 and copy.version == p.PROTOCOL_VERSION and copy.kind == message.kind


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.kind)
def test_messages_are_frozen(message: p.Message) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.seq = 5  # type: ignore[misc]


ALLOWED_PAYLOAD = {"int", "float", "str", "bool", "None", "Job", "JobSpec", "Segment", "Word"}
ALLOWED_PAYLOAD |= {"TranscriptionOptions", "SubtitleRules", "ModelEntry", "InputDeviceEntry"}
ALLOWED_PAYLOAD |= {"Transcript"}  # the editor's: segments of Words, plain data
# The tune's own progress dataclasses (torch-free, voxtune.engine.tune.events) and its options.
ALLOWED_PAYLOAD |= {"TuneConfig", "DataChecked", "TuneStarted", "StepDone", "EvalDone"}
ALLOWED_PAYLOAD |= {"CheckpointSaved", "TuneFinished", "TuneEstimate"}
ALLOWED_PAYLOAD |= {"ExportSummary"}  # numbers of an export-report.json (engine.export.formats)


@pytest.mark.parametrize("cls", (*p.COMMANDS, *p.EVENTS), ids=lambda c: c.kind)
def test_payloads_are_plain_data(cls: type[p.Message]) -> None:
    """No tensors, no exceptions, no model objects: only these types, in tuples or unions."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        names = set(_type_names(hints[f.name]))
        assert names <= ALLOWED_PAYLOAD, f"{cls.__name__}.{f.name}: {names - ALLOWED_PAYLOAD}"


def _type_names(hint: object) -> list[str]:
    args = typing.get_args(hint)
    if args:
        return [n for a in args if a is not Ellipsis for n in _type_names(a)]
    return ["None" if hint is type(None) else getattr(hint, "__name__", str(hint))]


def test_job_identity_ignores_how_the_command_was_spelled(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = JobSpec.for_file("a.ogg", "out", ("srt", "json"))
    absolute = JobSpec.for_file(tmp_path / "a.ogg", tmp_path / "out", ("json", "srt"))
    assert relative == absolute and relative.key() == absolute.key()
    other_options = JobSpec.for_file(
        "a.ogg", "out", ("srt", "json"), options=TranscriptionOptions(beam_size=1)
    )
    other_output = JobSpec.for_file("a.ogg", "elsewhere", ("srt", "json"))
    other_model = JobSpec.for_file("a.ogg", "out", ("srt", "json"), model="whisper-base")
    keys = {s.key() for s in (relative, other_options, other_output, other_model)}
    assert len(keys) == 4
    assert json.loads(relative.settings_json())["formats"] == ["srt", "json"]


def test_an_unknown_output_format_is_refused() -> None:
    with pytest.raises(ValueError, match="output formats must be some of srt, vtt, txt, json"):
        JobSpec.for_file("a.ogg", "out", ("srt", "docx"))


def test_the_client_side_imports_nothing_heavy() -> None:
    """The UI imports the protocol and the client; neither may pull in torch and friends."""
    code = (
        "import sys, voxtune.engine.protocol, voxtune.engine.client, voxtune.engine.jobs;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'transformers', 'numpy', 'av', 'peft', 'PySide6'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_importing_the_protocol_loads_few_modules() -> None:
    """Payloads come from leaf modules: no job store (sqlite3), no writers, no model code."""
    code = (
        "import sys, json; before = set(sys.modules); import voxtune.engine.protocol;"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(result.stdout)
    ours = [m for m in loaded if m.startswith("voxtune")]
    # 16: the protocol, its payloads (jobs.content: a JobSpec's fingerprint; export.formats:
    # ExportSummary), their packages
    assert len(ours) <= 16, ours
    assert "voxtune.engine.jobs.store" not in ours and "sqlite3" not in loaded
    assert len(loaded) <= 45, loaded  # with the standard library's share
