"""Issue 19: what a user gets wrong on the command line is one line, said before the model
loads or any file is decoded, and nothing is written or lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.languages import checked_language, language_code


def voxtune(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxtune.app", *args],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TQDM_DISABLE": "1", **env},
    )  # fmt: skip


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("voxtune: error:")]


def write_wav(path: Path, audio: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


# -- item 1: two inputs of one name -----------------------------------------------------


def test_two_inputs_with_the_same_name_are_refused(tmp_path: Path, english_dev) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Path(shutil.copy(english_dev[4].path, tmp_path / "a" / "x.ogg"))
    second = Path(shutil.copy(english_dev[3].path, tmp_path / "b" / "x.ogg"))
    out = tmp_path / "out"
    result = voxtune("transcribe", str(first), str(second), "-o", str(out))
    assert result.returncode == 1
    assert errors(result) == [
        f"voxtune: error: {second}: same name as {first}; their outputs would overwrite each "
        "other (transcribe them into different --output-dir folders)"
    ]
    assert not out.exists() or list(out.iterdir()) == []


# -- item 3: --language -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "code"),
    [("en", "en"), ("EN", "en"), ("en-US", "en"), ("pt_BR", "pt"), ("English", "en"),
     ("german", "de"), ("zh-Hans", "zh"), ("iw", "he"), ("auto", None), (" fr ", "fr")],
)  # fmt: skip
def test_common_spellings_of_a_language(typed: str, code: str | None) -> None:
    every = ("en", "de", "pt", "zh", "he", "fr")
    assert checked_language(typed, "m", every) == code


@pytest.mark.parametrize("typed", ["xx", "klingon", "e", "en-", "12", "zz-ZZ"])
def test_what_is_not_a_language_is_one_line(typed: str) -> None:
    with pytest.raises(VoxtuneError) as caught:
        checked_language(typed, "whisper-base", ("en", "de"))
    assert str(caught.value).startswith(f"--language {typed!r}: not a language code or name")
    assert language_code(typed) is None


def test_a_language_the_model_does_not_know_is_refused() -> None:
    with pytest.raises(VoxtuneError, match=r"^whisper-tiny.en transcribes English only, not Ger"):
        checked_language("de", "whisper-tiny.en", ("en",))
    with pytest.raises(VoxtuneError, match=r"^qwen: does not know Latin \(la\); it knows de, en$"):
        checked_language("la", "qwen", ("en", "de"))
    assert checked_language("tl", "qwen", ("fil", "en")) == "fil"  # one language, two codes


@pytest.mark.parametrize(
    ("language", "message"),
    [("xx", "--language 'xx': not a language code or name"),
     ("de", "whisper-tiny.en transcribes English only, not German (de)")],
)  # fmt: skip
@pytest.mark.parametrize("command", ["transcribe", "batch"])
def test_bad_languages_are_refused_up_front(
    tmp_path: Path, english_dev, command: str, language: str, message: str
) -> None:
    out = tmp_path / "out"
    result = voxtune(command, str(english_dev[4].path), "-l", language, "-o", str(out),
                     VOXTUNE_HOME=str(tmp_path / "home"))  # fmt: skip
    assert result.returncode == 1
    lines = errors(result)
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists() or list(out.iterdir()) == []
    assert not (tmp_path / "home" / "jobs.sqlite3").exists()  # batch: no job was made


def test_spellings_transcribe_and_silence_says_nothing_was_heard(
    tmp_path: Path, english_dev
) -> None:
    silence = write_wav(tmp_path / "quiet.wav", np.zeros(16000 * 20, dtype=np.float32))
    speech = english_dev[4].path
    out = tmp_path / "out"
    result = voxtune("transcribe", str(speech), str(silence), "-l", "en-US", "-f", "txt",
                     "-o", str(out))  # fmt: skip
    assert result.returncode == 0 and errors(result) == []
    assert (out / f"{speech.stem}.txt").read_text(encoding="utf-8").strip()
    assert (out / "quiet.txt").read_text(encoding="utf-8").strip() == ""
    assert f"voxtune: {silence}: no speech heard; the outputs are empty" in result.stderr


# -- item 9: checked before anything is decoded -----------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [(["-f", ","], "--format: no output format given"),
     (["-o", "{file}"], "{file}: not a folder (--output-dir)"),
     (["-o", "{file}/sub"], "{file}/sub: cannot write outputs there")],
)  # fmt: skip
def test_outputs_are_checked_before_decoding(
    tmp_path: Path, english_dev, args: list[str], message: str
) -> None:
    file = tmp_path / "a-file"
    file.write_text("in the way")
    args = [a.format(file=file) for a in args]
    result = voxtune("transcribe", str(english_dev[4].path), *args, "--model", "no-such-model")
    # Said before the model is even resolved: the unknown model is never reached.
    lines = errors(result)
    assert result.returncode == 1 and len(lines) == 1
    assert lines[0].startswith(f"voxtune: error: {message.format(file=file)}")


def test_missing_inputs_are_found_before_the_model(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    result = voxtune("transcribe", str(missing), "--model", "no-such-model")
    assert result.returncode == 1
    assert errors(result) == [f"voxtune: error: {missing}: file not found"]
    assert "voxtune: 1 of 1 files failed" in result.stderr


def test_eval_names_a_header_it_does_not_know(tmp_path: Path, english_dev) -> None:
    manifest = tmp_path / "m.tsv"
    manifest.write_text(f"clip\twords\n{english_dev[4].path}\t{english_dev[4].reference}\n")
    result = voxtune("eval", str(manifest))
    assert result.returncode == 1
    assert errors(result) == [
        f"voxtune: error: {manifest}: line 1 looks like a header (clip/words); the header needs "
        "an audio column (audio/path/file_name/file/audio_path) and a text column "
        "(text/transcription/transcript/sentence/reference), or leave it out (audio path, then "
        "text)"
    ]


def test_pull_takes_a_registry_name(tmp_path: Path) -> None:
    result = voxtune("models", "pull", "qwen3-asr-0.6b", HF_HUB_OFFLINE="1",
                     VOXTUNE_HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"))  # fmt: skip
    assert "expected org/name" not in result.stderr
    lines = errors(result)
    assert result.returncode == 1 and len(lines) == 1 and "Qwen/Qwen3-ASR-0.6B" in lines[0]
