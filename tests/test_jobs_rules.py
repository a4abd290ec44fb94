"""A job's subtitle rules reach its outputs: the real engine process, real speech, SRTs read
back with the ``srt`` package."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import srt
from test_engine_jobs import OPTIONS, EventLog, finished

from voxtune.engine import protocol as p
from voxtune.engine.client import EngineClient
from voxtune.engine.jobs import JobSpec
from voxtune.engine.process import EngineConfig
from voxtune.engine.subtitles import SubtitleRules

NARROW = SubtitleRules(max_line_chars=20)


def srt_lines(path: str) -> list[str]:
    cues = list(srt.parse(Path(path).read_text(encoding="utf-8")))
    assert cues, f"{path} has no cues"
    return [line for cue in cues for line in cue.content.splitlines()]


def test_a_job_writes_its_srt_with_its_own_rules(english_dev: list, tmp_path: Path) -> None:
    # A long sentence, so the default rules (42 characters) fill lines beyond 20.
    utterance = max(english_dev[:8], key=lambda u: len(u.reference))
    default = JobSpec.for_file(utterance.path, tmp_path / "default", ("srt",), options=OPTIONS)
    narrow = replace(default, output_dir=str(tmp_path / "narrow"), rules=NARROW)
    config = EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), threads=1)
    with EngineClient(config) as engine:
        log = EventLog(engine)
        ids = [log.submit(default), log.submit(narrow)]
        done = [log.wait(finished(job_id)) for job_id in ids]
        assert all(isinstance(d, p.JobDone) for d in done), done
        wide_lines, narrow_lines = (srt_lines(d.outputs[0]) for d in done)
        assert Path(done[1].outputs[0]).parent == tmp_path / "narrow"

        # A rerun with other options is a new job with the same rules.
        rerun = log.request(p.RerunJob(job_id=ids[1], options=replace(OPTIONS, beam_size=2)))
        assert rerun.job.id not in ids and rerun.job.spec.rules == NARROW

    assert max(map(len, wide_lines)) > 20  # what the defaults give this sentence
    assert max(map(len, narrow_lines)) <= 20
    # The same words, only broken into more lines.
    assert " ".join(narrow_lines).split() == " ".join(wide_lines).split()
