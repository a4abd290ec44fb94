"""Live transcription, measured from outside: ``voxtune live --file F --json`` in a child.

Part ``latency``: each English FLEURS recording, one session each, and 200 IVR prompts
(``--prompts N``; about 18 minutes) joined with pauses, played at 1x real time with the
default model. For every committed word: the first-partial latency (when the word first
appeared, partial or committed, minus the end of the word in the audio) and the commit
latency (when it was committed, minus the same); median and p90.
The committed text's WER against the references, beside the offline WER of the same audio
(``Transcriber``, default options, on the same audio; for the IVR prompts also each prompt
on its own) and the child's CPU use while streaming.
Targets: median partial <= 1.0 s, median commit <= 2.0 s, committed WER <= 1.15x offline.

Part ``replay`` (not in ``all``): the latency part's sessions fed in-process as fast as they
decode, the same steps every run: committed WER only, for comparing commit policies and
``--context`` (seconds of the utterance before kept as context; 0: none).

Part ``long``: an hour of IVR prompts (joined with pauses, repeated) played at 8x; the
child's resident memory (current and peak) when 10 and 60 minutes of audio have been heard.

    .venv/bin/python tests/bench/bench_live.py [--part latency|long|replay|all] [--minutes 60]
                                               [--speed 8] [--step 1.0] [--prompts 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
RATE = 16000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def manifest(name: str) -> list:
    sys.path.insert(0, str(TESTS))
    from conftest import read_manifest

    return read_manifest(name)


def join_speech(paths: list[Path], gap: float, seconds: float | None = None) -> np.ndarray:
    """The files one after another with ``gap`` s of silence, repeated up to ``seconds``."""
    from voxtune.engine.audio import decode_audio

    pause = np.zeros(int(gap * RATE), dtype=np.float32)
    pieces = [p for path in paths for p in (decode_audio(path), pause)]
    audio = np.concatenate(pieces)
    if seconds is not None:
        audio = np.tile(audio, -(-int(seconds * RATE) // len(audio)))[: int(seconds * RATE)]
    return audio


def write_wav(path: Path, audio: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def memory_mib(pid: int) -> dict[str, float]:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def run_live(path: Path, speed: float, on_event=None, step: float = 1.0):  # type: ignore[no-untyped-def]
    """Events of ``voxtune live`` on ``path``, and the child's CPU use while it streamed."""
    child = subprocess.Popen(
        [sys.executable, "-m", "voxtune.app", "live", "--file", str(path),
         "--speed", str(speed), "--step", str(step), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    events: list[dict] = []
    cpu: dict[str, float] = {}
    assert child.stdout is not None
    for line in child.stdout:
        event = json.loads(line)
        events.append(event)
        if event["event"] == "started":
            cpu["cpu_start"], cpu["wall_start"] = cpu_seconds(child.pid), time.monotonic()
        if event["event"] == "stopped":
            cpu["cpu_end"], cpu["wall_end"] = cpu_seconds(child.pid), time.monotonic()
        if on_event is not None:
            on_event(event, child.pid)
    if child.wait() != 0:
        assert child.stderr is not None
        raise SystemExit(f"voxtune live failed ({child.returncode}): {child.stderr.read()[-2000:]}")
    wall = cpu["wall_end"] - cpu["wall_start"]
    return events, {"cpu_percent": 100 * (cpu["cpu_end"] - cpu["cpu_start"]) / wall}


def same_word(a: dict, b: dict) -> bool:
    from voxtune.engine.stream.policy import comparable

    return comparable(a["text"]) == comparable(b["text"]) and abs(a["start"] - b["start"]) < 0.6


def latencies(events: list[dict]) -> dict[str, list[float]]:
    start = events[0]["time"]
    updates = [e for e in events if e["event"] == "update"]
    partial, commit = [], []
    for update in updates:
        for word in update["committed"]:
            commit.append(update["time"] - start - word["end"])
            first_seen = next(
                u["time"] for u in updates
                if any(same_word(word, w) for w in u["partial"] + u["committed"])
            )  # fmt: skip
            partial.append(first_seen - start - word["end"])
    return {"partial": partial, "commit": commit}


def summary(values: list[float]) -> str:
    return f"median {np.median(values):.2f} s, p90 {np.percentile(values, 90):.2f} s"


def offline_texts(audios: list[np.ndarray]) -> tuple[list[str], list[str]]:
    """What the offline ``Transcriber`` writes: default options (beam 5), and greedy."""
    from voxtune.engine.models import load_model
    from voxtune.engine.transcribe import Transcriber
    from voxtune.engine.types import TranscriptionOptions

    transcriber = Transcriber(load_model())
    results = []
    for options in (TranscriptionOptions(), TranscriptionOptions(beam_size=1)):
        texts = []
        for audio in audios:
            segments, _ = transcriber.transcribe(audio, options)
            texts.append(" ".join(s.text for s in segments))
        results.append(texts)
    return results[0], results[1]


def offline_alone(paths: list[Path]) -> str:
    """What the offline ``Transcriber`` (default options) writes of each file on its own."""
    from voxtune.engine.models import load_model
    from voxtune.engine.transcribe import Transcriber
    from voxtune.engine.types import TranscriptionOptions

    transcriber = Transcriber(load_model())
    options = TranscriptionOptions()
    return " ".join(
        s.text for path in paths for s in transcriber.transcribe(decode(path), options)[0]
    )


def latency_sessions(directory: Path, count: int) -> tuple[list[tuple[Path, str]], list]:
    """(file, reference) of each session: the English FLEURS recordings, then ``count`` IVR
    prompts joined with pauses; and those prompts."""
    english = [u for u in manifest("dev.tsv") if u.language == "en"]
    prompts = manifest("ivr.tsv")
    random.Random(1).shuffle(prompts)
    prompts = prompts[:count]
    joined = join_speech([u.path for u in prompts], gap=1.5)
    sessions = [(u.path, u.reference) for u in english]
    sessions.append(
        (write_wav(directory / f"ivr{count}.wav", joined), " ".join(u.reference for u in prompts))
    )
    print(f"audio: {len(english)} English FLEURS recordings (a session each) and "
          f"{len(prompts)} IVR prompts joined ({len(joined) / RATE:.0f} s)")  # fmt: skip
    return sessions, prompts


def print_wer(references: list[str], live: list[str], offline: tuple[list[str], list[str]]) -> None:
    """Committed against offline (beam 5, greedy) WER: the FLEURS sessions, the IVR one, all."""
    from voxtune.engine.evaluation import word_error_rate

    for name, part in (("FLEURS", slice(0, -1)), ("IVR", slice(-1, None)), ("all", slice(None))):
        committed = word_error_rate(references[part], live[part])
        best, greedy = (word_error_rate(references[part], texts[part]) for texts in offline)
        print(f"{name:>6} WER: committed {committed:.1%}; offline {best:.1%} (beam 5), "
              f"{greedy:.1%} (greedy); ratio {committed / best if best else float('inf'):.2f} "
              "(target <= 1.15)")  # fmt: skip


def bench_replay(directory: Path, step: float, count: int, context: float) -> None:
    """The latency part's sessions fed in-process in 0.1 s blocks, as fast as they decode:
    the same steps every run, so commit policies can be compared on committed WER alone."""
    from voxtune.engine.models import load_model
    from voxtune.engine.stream.transcriber import StreamingTranscriber
    from voxtune.engine.stream.updates import StreamingOptions

    sessions, _ = latency_sessions(directory, count)
    loaded = load_model()
    options = StreamingOptions(step_seconds=step, context_seconds=context)
    block = RATE // 10
    live = []
    for path, _ in sessions:
        audio, transcriber = decode(path), StreamingTranscriber(loaded, options)
        for first in range(0, len(audio), block):
            transcriber.feed(audio[first : first + block])
        transcriber.finish()
        live.append("".join(w.text for w in transcriber.committed))
    offline = offline_texts([decode(path) for path, _ in sessions])
    print(f"replayed in-process, step {step:g} s, context {context:g} s:")
    print_wer([reference for _, reference in sessions], live, offline)


def bench_latency(directory: Path, step: float, count: int) -> None:
    """Each English FLEURS recording, and ``count`` IVR prompts joined with pauses, through
    ``voxtune live`` at 1x; then the same audio offline."""
    from voxtune.engine.evaluation import word_error_rate

    sessions, prompts = latency_sessions(directory, count)
    measured: dict[str, list[float]] = {"partial": [], "commit": []}
    live_texts, cpu, decodes, decode_seconds = [], [], 0, 0.0
    for path, _ in sessions:
        events, usage = run_live(path, 1.0, step=step)
        stopped = events[-1]
        live_texts.append(stopped["text"])
        for kind, values in latencies(events).items():
            measured[kind] += values
        cpu.append(usage["cpu_percent"])
        decodes += stopped["decodes"]
        decode_seconds += stopped["decode_seconds"]
    references = [reference for _, reference in sessions]
    offline = offline_texts([decode(path) for path, _ in sessions])
    print(f"first-partial latency: {summary(measured['partial'])}  (target median <= 1.0 s)")
    print(f"commit latency:        {summary(measured['commit'])}  (target median <= 2.0 s)")
    print_wer(references, live_texts, offline)
    print(f"CPU while streaming: {np.mean(cpu):.0f}% of one core; {decodes} decodes, "
          f"{decode_seconds / decodes:.2f} s each")  # fmt: skip
    # Offline hears the joined prompts five or so to a 30 s window, each with the ones
    # around it, before and after; a live session has only what came before.
    alone = word_error_rate([references[-1]], [offline_alone([u.path for u in prompts])])
    print(f"   IVR WER offline with each prompt on its own: {alone:.1%}")
    for text in live_texts:
        print(f"  live: {text}")


def decode(path: Path) -> np.ndarray:
    from voxtune.engine.audio import decode_audio

    return decode_audio(path)


def bench_long(directory: Path, minutes: float, speed: float, step: float) -> None:
    prompts = [u.path for u in manifest("ivr.tsv")]
    random.Random(0).shuffle(prompts)
    audio = join_speech(prompts, gap=0.8, seconds=minutes * 60)
    path = write_wav(directory / "long.wav", audio)
    del audio
    print(f"audio: IVR prompts with 0.8 s pauses, {minutes:.0f} min, at {speed:g}x")
    marks = {600.0: "10 min", minutes * 60 - 30: f"{minutes:.0f} min"}
    seen: dict[str, dict[str, float]] = {}

    def on_event(event: dict, pid: int) -> None:
        for at, name in marks.items():
            if name not in seen and event.get("audio_time", 0.0) >= at:
                seen[name] = memory_mib(pid) | {"wall": time.monotonic() - began}
                print(f"  {name} of audio: RSS {seen[name]['VmRSS']:.0f} MiB, "
                      f"peak {seen[name]['VmHWM']:.0f} MiB, "
                      f"after {seen[name]['wall']:.0f} s", flush=True)  # fmt: skip

    began = time.monotonic()
    events, cpu = run_live(path, speed, on_event, step)
    stopped = events[-1]
    words = len(stopped["text"].split())
    print(f"done: {stopped['audio_time'] / 60:.1f} min of audio in "
          f"{(time.monotonic() - began) / 60:.1f} min, {stopped['decodes']} decodes, "
          f"{words} words committed, CPU {cpu['cpu_percent']:.0f}%")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("latency", "long", "replay", "all"), default="all")
    parser.add_argument(
        "--context", type=float, default=10.0, help="context_seconds of the replay part"
    )
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=8.0, help="of the long run")
    parser.add_argument("--step", type=float, default=1.0, help="seconds between decodes")
    # Fewer prompts swing the WER ratio by what a few words do: the same live decoder read
    # 60 prompts at 1.40x offline and 200 at 0.98x.
    parser.add_argument(
        "--prompts", type=int, default=200, help="IVR prompts joined in the latency part"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as directory:
        if args.part in ("latency", "all"):
            bench_latency(Path(directory), args.step, args.prompts)
        if args.part == "replay":
            bench_replay(Path(directory), args.step, args.prompts, args.context)
        if args.part in ("long", "all"):
            bench_long(Path(directory), args.minutes, args.speed, args.step)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
