"""The one model of a batch job: what to do (``JobSpec``), and where it stands (``Job``).

Torch-free: the protocol carries these between the UI and the engine process.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from voxtune.engine.jobs.codec import options_to_dict, rules_to_dict
from voxtune.engine.jobs.content import content_fingerprint
from voxtune.engine.subtitles.rules import DEFAULT_RULES, SubtitleRules
from voxtune.engine.types import TranscriptionOptions

OUTPUT_FORMATS: tuple[str, ...] = ("srt", "vtt", "txt", "json")
DEFAULT_MODEL = "whisper-tiny.en"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything that decides a job's result. Two equal specs are the same job."""

    input_path: str
    output_dir: str
    formats: tuple[str, ...] = ("srt",)
    model: str = DEFAULT_MODEL
    options: TranscriptionOptions = field(default_factory=TranscriptionOptions)
    rules: SubtitleRules = DEFAULT_RULES  # how SRT/VTT cues are cut
    # A Qwen3-ForcedAligner name or path for word times; None: the default one when it is
    # downloaded (as ``voxtune transcribe``); "none": segment times only.
    aligner: str | None = None
    # The input's content fingerprint when the job was asked for (``content_fingerprint``);
    # not part of the key: a changed file is the same job, done again (JobStore.submit).
    content: str | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(OUTPUT_FORMATS))
        if unknown or not self.formats:
            raise ValueError(
                f"output formats must be some of {', '.join(OUTPUT_FORMATS)}, not {self.formats}"
            )
        # Normalised, so the order a user lists formats in does not make a new job.
        object.__setattr__(self, "formats", tuple(f for f in OUTPUT_FORMATS if f in self.formats))

    @classmethod
    def for_file(
        cls,
        input_path: str | Path,
        output_dir: str | Path,
        formats: tuple[str, ...] = ("srt",),
        model: str = DEFAULT_MODEL,
        options: TranscriptionOptions | None = None,
        rules: SubtitleRules = DEFAULT_RULES,
        aligner: str | None = None,
    ) -> JobSpec:
        """A spec with absolute paths, so the same command from another folder is the same job."""
        return cls(
            input_path=str(Path(input_path).expanduser().resolve()),
            output_dir=str(Path(output_dir).expanduser().resolve()),
            formats=tuple(formats),
            model=model,
            options=options or TranscriptionOptions(),
            rules=rules,
            aligner=aligner,
            content=content_fingerprint(input_path),
        )

    @property
    def stem(self) -> str:
        return Path(self.input_path).stem

    def to_dict(self) -> dict:
        return {
            "input_path": self.input_path,
            "output_dir": self.output_dir,
            "formats": list(self.formats),
            "model": self.model,
            "options": options_to_dict(self.options),
            "rules": rules_to_dict(self.rules),
            "aligner": self.aligner,
            "content": self.content,
        }

    def settings_json(self) -> str:
        """What the job store keeps in ``jobs.settings``: all but the input path, the rules,
        the aligner and the content (those have columns of their own)."""
        settings = self.to_dict()
        for own_column in ("input_path", "rules", "aligner", "content"):
            del settings[own_column]
        return json.dumps(settings, sort_keys=True)

    def key(self) -> str:
        """Identity: same input, options, rules and output give the same key."""
        identity = self.to_dict()
        # Left out at their defaults so a job queued before they existed keeps its key: the
        # same command after an upgrade finds that job instead of transcribing again.
        if self.rules == DEFAULT_RULES:
            del identity["rules"]
        if self.aligner is None:
            del identity["aligner"]
        del identity["content"]  # the same job when the file changes: its result is replaced
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def decoding_key(self) -> str:
        """Jobs with equal decoding keys may be decoded together in one batch.

        The aligner is part of the transcriber; the rules are not (they only cut cues).
        """
        return json.dumps(
            {"model": self.model, "aligner": self.aligner, "options": options_to_dict(self.options)}
        )


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    spec: JobSpec
    state: JobState
    priority: int = 0
    progress: float = 0.0  # fraction of the audio transcribed, in [0, 1]
    duration: float | None = None  # seconds of audio, once probed
    outputs: tuple[str, ...] = ()
    error: str | None = None  # one line, fit to show a user
    retryable: bool = True
    attempts: int = 0  # engines that stopped without releasing it (crashes) + the current one
    worker: int | None = None  # pid of the engine running it
    created_at: float = 0.0  # Unix time
    started_at: float | None = None
    finished_at: float | None = None
