"""A finished job's transcript for the editor, and the editor's corrections back.

The engine owns the job store and the writers, so opening and saving a transcript are
commands: the UI sends segments and gets the paths written, never touching SQLite or files.
"""

from __future__ import annotations

from pathlib import Path

from voxtune.engine import protocol as p
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.jobs.job import JobState
from voxtune.engine.jobs.store import JobStore
from voxtune.engine.types import Segment, Transcript


def open_transcript(store: JobStore, command: p.OpenTranscript) -> p.TranscriptOpened:
    job = store.get(command.job_id)
    if job.state is not JobState.DONE:
        raise VoxtuneError(
            f"job {job.id} ({Path(job.spec.input_path).name}) is {job.state.value}: "
            "only a finished job has a transcript to edit"
        )
    edits = store.edits(job.id)
    segments = edits if edits is not None else store.segments(job.id)
    transcript = _transcript(segments, job.duration, job.spec.model)
    return p.TranscriptOpened(
        job_id=job.id,
        transcript=transcript,
        audio_path=job.spec.input_path,
        edited=edits is not None,
        reply_to=command.seq,
    )


def save_transcript(store: JobStore, command: p.SaveTranscript) -> p.TranscriptSaved:
    """Keep the edits, then write the outputs again from them with the job's own rules."""
    from voxtune.engine.subtitles.writer import write_outputs

    job = store.get(command.job_id)
    segments = tuple(sorted(command.segments, key=lambda s: (s.start, s.end)))
    store.save_edits(job.id, segments)
    spec = job.spec
    written = write_outputs(
        _transcript(segments, job.duration, spec.model),
        Path(spec.output_dir),
        spec.stem,
        command.formats or spec.formats,
        spec.rules,
    )
    return p.TranscriptSaved(
        job_id=job.id, outputs=tuple(str(path) for path in written), reply_to=command.seq
    )


def _transcript(segments: list[Segment] | tuple[Segment, ...], duration: float | None,
                model: str) -> Transcript:  # fmt: skip
    language = next((s.language for s in segments if s.language), None)
    end = max((s.end for s in segments), default=0.0)
    return Transcript(
        segments=tuple(segments), language=language, duration=duration or end, model=model
    )
