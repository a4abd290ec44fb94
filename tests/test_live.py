"""``voxtune live`` through the real command line: a file played as a microphone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxtune.engine.audio import decode_audio
from voxtune.engine.evaluation import word_error_rate

RATE = 16000


def voxtune(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxtune.app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def test_live_json_from_a_file_at_4x(ivr_set: list) -> None:
    prompt = next(u for u in ivr_set if "agent number" in u.reference)
    duration = len(decode_audio(prompt.path)) / RATE
    result = voxtune("live", "--file", str(prompt.path), "--speed", "4", "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]

    started, *updates, stopped = events
    assert started["event"] == "started" and started["source"] == "file"
    assert started["sample_rate"] == RATE
    assert stopped["event"] == "stopped"
    assert {e["event"] for e in updates} == {"update"}
    assert updates[-1]["final"] and not any(e["final"] for e in updates[:-1])
    times = [e["time"] for e in events]
    assert times == sorted(times)
    for event in updates:
        # Audio cannot be heard before it is played: 4x real time from the start event.
        assert event["audio_time"] <= (event["time"] - started["time"]) * 4.0 + 0.1
        assert event["audio_time"] <= duration + 1e-6
        for word in event["committed"] + event["partial"]:
            assert set(word) == {"text", "start", "end", "confidence"}
            assert 0.0 <= word["start"] <= word["end"] <= duration + 0.05
    committed = "".join(w["text"] for e in updates for w in e["committed"])
    assert committed.strip() == stopped["text"]
    assert word_error_rate([prompt.reference], [committed]) < 0.2
    assert abs(stopped["audio_time"] - duration) < 1e-3


def test_live_text_output_is_the_committed_text(ivr_set: list) -> None:
    prompt = next(u for u in ivr_set if u.path.name == "ivr-conf-adminmenu-menu8.ogg")
    result = voxtune("live", "--file", str(prompt.path), "--speed", "0")
    assert result.returncode == 0, result.stderr
    assert word_error_rate([prompt.reference], [result.stdout]) < 0.25
    assert f"listening to {prompt.path}" in result.stderr


def test_live_on_a_file_that_is_not_audio_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "dictation.wav"
    bad.write_bytes(b"RIFF but not really")
    result = voxtune("live", "--file", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"voxtune: error: {bad}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    missing = tmp_path / "gone.ogg"
    result = voxtune("live", "--file", str(missing))
    assert result.returncode == 1
    assert result.stderr.strip() == f"voxtune: error: {missing}: file not found"


def test_live_argument_errors_are_one_line() -> None:
    result = voxtune("live", "--speed", "2")
    assert result.returncode == 1
    assert result.stderr.strip() == "voxtune: error: --speed applies to --file only"
    result = voxtune("live", "--file", "x.ogg", "--speed", "-1")
    assert result.returncode == 2
    assert "speed must be 0 (as fast as possible) or more: -1" in result.stderr


def test_live_without_any_input_device_says_so() -> None:
    if Path("/dev/snd").exists():
        pytest.skip("this machine has a sound card: an input device exists")
    # No sound card on this machine and no sound server answering at this address.
    nowhere = {"PULSE_SERVER": "unix:/nonexistent/voxtune/native"}
    result = voxtune("live", **nowhere)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "voxtune: error: no input device found (connect a microphone, or start PulseAudio/PipeWire)"
    )
    listed = voxtune("live", "--list-devices", **nowhere)
    assert listed.returncode == 0
    assert listed.stdout == "" and listed.stderr.strip() == "no input devices"
