"""The real microphone path: PortAudio → sounddevice → MicrophoneSource → live transcription.

A machine without a sound card gets a microphone from PulseAudio: a null sink whose monitor
hears whatever ``paplay`` plays into it, reached through PortAudio's ALSA ``pulse`` device
(Debian: pulseaudio pulseaudio-utils libasound2-plugins libportaudio2). Each test module
run starts its own PulseAudio with a private runtime folder, so nothing else is disturbed.
PortAudio scans devices once per process, so the recording side runs in a subprocess that
sees this server from its start.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from media_factory import best_alignment

from voxtune.engine.audio import decode_audio
from voxtune.engine.evaluation import word_error_rate

RATE = 16000

RECORD = """
import subprocess, sys, numpy as np
from voxtune.engine.audio.sources import MicrophoneSource, list_input_devices
print([d.name for d in list_input_devices()], file=sys.stderr)
source = MicrophoneSource("pulse")
pieces, levels = [], []
with source:
    player = subprocess.Popen(["paplay", sys.argv[1]])
    while player.poll() is None:
        pieces.append(source.read(0.2))
        levels.append(source.level)
    for _ in range(5):
        pieces.append(source.read(0.1))
while (piece := source.read(0.1)) is not None:
    pieces.append(piece)
np.save(sys.argv[2], np.concatenate(pieces))
print(source.samplerate, source.channels, source.capture.dropped_frames, max(levels))
"""


def test_microphone_records_what_is_played_into_the_sink(
    private_pulse: dict[str, str], english_dev: list, tmp_path: Path
) -> None:
    path = english_dev[1].path
    out = tmp_path / "recorded.npy"
    result = subprocess.run(
        [sys.executable, "-c", RECORD, str(path), str(out)],
        env=private_pulse, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    samplerate, channels, dropped, loudest = result.stdout.split()
    assert "pulse" in result.stderr  # listed among the inputs
    assert int(samplerate) == 44100  # recorded at the device's own rate, resampled by us
    assert int(channels) == 1 and int(dropped) == 0
    assert float(loudest) > -45.0  # the meter heard the speech

    recorded = np.load(out)
    reference = decode_audio(path)
    _, correlation, overlap = best_alignment(recorded, reference)
    assert overlap > 0.95 * len(reference)  # all of it arrived
    assert correlation > 0.95  # and it is the same speech


def test_voxtune_live_transcribes_speech_played_into_the_microphone(
    private_pulse: dict[str, str], ivr_set: list, tmp_path: Path
) -> None:
    prompt = next(u for u in ivr_set if "agent number" in u.reference)
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        live = subprocess.Popen(
            [sys.executable, "-m", "voxtune.app", "live", "--device", "pulse", "--json"],
            env=private_pulse, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(x) for x in live.stdout], daemon=True)
        reader.start()
        try:
            started = json.loads(lines.get(timeout=120))
            assert started["event"] == "started" and started["source"] == "microphone"
            assert started["name"] == "pulse"
            subprocess.run(["paplay", str(prompt.path)], env=private_pulse, check=True, timeout=60)
            played_at = time.time()
            # Wait until the utterance is committed: the pause after it ends it (VAD), so that
            # update is made after the playing ended. (Not by audio time: an idle null sink's
            # monitor may deliver nothing before paplay starts, so the stream's audio clock
            # can run seconds behind the wall clock since "started".)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                event = json.loads(lines.get(timeout=120))
                said = event["committed"] and not event["partial"]
                if said and event["time"] >= played_at:
                    break
            live.send_signal(signal.SIGINT)
            live.wait(timeout=120)
        finally:
            if live.poll() is None:
                live.kill()
        reader.join(timeout=10)
        stderr.seek(0)
        assert live.returncode == 0, stderr.read()
    events = [json.loads(line) for line in _drain(lines)]
    stopped = events[-1]
    assert stopped["event"] == "stopped"
    assert stopped["text"]
    assert word_error_rate([prompt.reference], [stopped["text"]]) < 0.25


def _drain(lines: queue.Queue[str]) -> list[str]:
    drained = []
    while not lines.empty():
        drained.append(lines.get())
    return drained


CHOOSE = """
from voxtune.engine.audio.sources import MicrophoneSource
from voxtune.engine.errors import VoxtuneError
for device, channels in (("nowhere", None), (7, None), ("e", None), ("pulse", 64)):
    try:
        MicrophoneSource(device, channels=channels).start()
    except VoxtuneError as exc:
        print(exc)
"""


def test_device_choice_errors_name_the_device(private_pulse: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHOOSE],
        env=private_pulse,
        capture_output=True,
        text=True,
        timeout=60,
    )
    hint = "(`voxtune live --list-devices` lists them)"
    nowhere, seven, ambiguous, unopenable = result.stdout.strip().splitlines()
    assert nowhere == f"input device 'nowhere': no such input device {hint}"
    assert seven == f"input device 7: no such input device {hint}"
    assert ambiguous == "input device 'e': matches several (0: pulse, 1: default); give its index"
    assert unopenable.startswith("input device 0 (pulse): cannot record (")
