"""``voxtune transcribe`` and ``voxtune eval`` as a user runs them: real files, real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import srt
import webvtt
from media_factory import SPECS, make_media, read_speech, write_media

from voxtune.engine.evaluation import word_error_rate


def voxtune(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxtune.app", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "TQDM_DISABLE": "1"},
        timeout=600,
    )


def check_cues(starts_ends: list[tuple[float, float]], duration: float) -> None:
    previous = 0.0
    for start, end in starts_ends:
        assert previous <= start < end <= duration + 0.01, (start, end, previous)
        previous = end


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory, ivr_set) -> tuple[Path, str, float]:
    """About two minutes of prompts with pauses between them, as Ogg Opus."""
    folder = tmp_path_factory.mktemp("long")
    parts, texts = [], []
    pause = np.zeros(int(0.8 * 16000), dtype=np.float32)
    for utterance in ivr_set[60:]:
        parts += [read_speech(utterance.path)[0], pause]
        texts.append(utterance.reference)
        if sum(len(p) for p in parts) > 120 * 16000:
            break
    signal = np.concatenate(parts)[None, :]
    path = write_media(folder / "long-prompts.ogg", signal, 16000, SPECS["ogg"])
    return path, " ".join(texts), signal.shape[1] / 16000


def test_long_file_to_every_format(tmp_path: Path, long_recording) -> None:
    path, reference, duration = long_recording
    out = tmp_path / "out"
    result = voxtune(
        "transcribe", str(path), "--format", "srt,vtt,txt,json", "-o", str(out), "--beam-size", "1"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "long-prompts.json", "long-prompts.srt", "long-prompts.txt", "long-prompts.vtt",
    ]  # fmt: skip

    subtitles = list(srt.parse((out / "long-prompts.srt").read_text(encoding="utf-8")))
    assert len(subtitles) > 20
    check_cues([(s.start.total_seconds(), s.end.total_seconds()) for s in subtitles], duration)
    for cue in subtitles:
        lines = cue.content.splitlines()
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines), cue

    captions = webvtt.read(str(out / "long-prompts.vtt"))
    assert len(captions) == len(subtitles)
    check_cues([(c.start_in_seconds, c.end_in_seconds) for c in captions], duration)

    document = json.loads((out / "long-prompts.json").read_text(encoding="utf-8"))
    assert document["model"] == "whisper-tiny.en"
    assert document["duration"] == pytest.approx(duration, abs=0.05)
    words = [w for s in document["segments"] for w in s["words"]]
    assert all(0 <= w["confidence"] <= 1 and w["start"] <= w["end"] for w in words)
    text = (out / "long-prompts.txt").read_text(encoding="utf-8")
    assert word_error_rate([reference], [text]) < 0.3
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temp files left behind"


def test_formats_we_claim_all_transcribe(tmp_path: Path, english_dev) -> None:
    source = english_dev[4]  # the shortest English utterance
    files = []
    for fmt in ("mp3", "m4a", "webm"):
        (tmp_path / fmt).mkdir()
        made = make_media(fmt, source.path, tmp_path / fmt).path
        # Names apart: one stem in one output folder is refused (the outputs would collide).
        files.append(made.rename(made.with_name(f"{made.stem}-{fmt}{made.suffix}")))
    result = voxtune("transcribe", *map(str, files), "-f", "txt", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    for file in files:
        text = (tmp_path / "out" / f"{file.stem}.txt").read_text(encoding="utf-8")
        assert word_error_rate([source.reference], [text]) < 0.35, (file, text)


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path, english_dev) -> None:
    good = english_dev[4].path
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio at all\n" * 50)
    missing = tmp_path / "missing.ogg"
    out = tmp_path / "out"
    result = voxtune(
        "transcribe", str(empty), str(good), str(notes), str(missing), "-f", "srt", "-o", str(out)
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert f"voxtune: error: {empty}: empty file" in errors
    assert f"voxtune: error: {notes}: not an audio or video file" in errors
    assert f"voxtune: error: {missing}: file not found" in errors
    assert "voxtune: 3 of 4 files failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert [p.name for p in out.iterdir()] == [f"{good.stem}.srt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "whisper-huge-v9"], "whisper-huge-v9"),
        (["--format", "srt,docx"], "docx"),
        (["--max-line-chars", "0"], "max_line_chars"),
    ],
)
def test_bad_options_are_one_line_errors(english_dev, tmp_path: Path, args, message) -> None:
    result = voxtune("transcribe", str(english_dev[4].path), "-o", str(tmp_path), *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("voxtune: error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_subtitle_rules_shape_the_cues(tmp_path: Path, english_dev) -> None:
    source = english_dev[2]  # the longest English sentence
    widths = {}
    for chars in ("42", "20"):
        out = tmp_path / chars
        result = voxtune("transcribe", str(source.path), "-o", str(out), "--max-line-chars", chars)
        assert result.returncode == 0, result.stderr
        cues = list(srt.parse((out / f"{source.path.stem}.srt").read_text(encoding="utf-8")))
        widths[chars] = max(len(line) for cue in cues for line in cue.content.splitlines())
    assert widths["20"] <= 20 < widths["42"] <= 42


def test_eval_prints_wer_and_rtf(tmp_path: Path, english_dev) -> None:
    manifest = tmp_path / "set.tsv"
    manifest.write_text(
        "".join(f"{u.path}\t{u.reference}\n" for u in english_dev[3:5]), encoding="utf-8"
    )
    result = voxtune("eval", str(manifest), "--beam-size", "1")
    assert result.returncode == 0, result.stderr
    all_line = next(line for line in result.stdout.splitlines() if line.startswith("all"))
    files, wer = all_line.split()[1:]
    assert int(files) == 2 and 0.0 <= float(wer) < 40.0
    assert "RTF" in result.stdout


def test_eval_rejects_a_broken_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "broken.tsv"
    manifest.write_text("only-a-path.wav\n", encoding="utf-8")
    result = voxtune("eval", str(manifest))
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"{manifest}: line 1: expected audio path, a tab, reference text"
    )
