"""Issue 19: a few hundred generated bad inputs through ``transcribe`` and ``batch``.

Truncations of real speech in every container, random bytes, WAV headers that lie, odd rates
and channel counts, odd names. Whatever a file is, the commands must: print no traceback; for
a file they cannot read, say one line naming it and write nothing for it; for a file they can
read, write its outputs. Seeded, so a failure is reproducible.

``transcribe`` runs in this process (one model load for all of them); ``batch`` runs once, as
a real command with its engine process, over a folder of them.
"""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from media_factory import make_media

from voxtune.app.cli import main

SEED = 19
ODD_NAMES = (
    "with space", "ünïcödé-naïve", "日本語の録音", "עברית", "emoji-🎙️", "-leading-dash",
    "quote'and\"double", "semi;colon&amp", "$HOME-not-expanded", "percent%20s", "tab\tin",
    "a" * 180, "dots.in.the.name", "[brackets]", "#hash", "back\\slash", "*star?",
)  # fmt: skip


def wav_bytes(rate: int, channels: int, width: int, seconds: float, rng: random.Random) -> bytes:
    """A well-formed WAV of quiet noise: odd, but a file a decoder should take."""
    frames = max(0, int(rate * seconds))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(rng.randbytes(frames * channels * width))
    return buffer.getvalue()


def lying_wav(rng: random.Random) -> bytes:
    """A RIFF/WAVE header whose fields are nonsense (rate 0, 0 channels, huge sizes…)."""
    fmt = struct.pack(
        "<HHIIHH",
        rng.choice([1, 3, 0, 0xFFFE, 7]),  # format tag
        rng.choice([0, 1, 2, 255, 65535]),  # channels
        rng.choice([0, 1, 7, 16000, 2**31 - 1]),  # sample rate
        rng.choice([0, 1, 2**32 - 1]),  # byte rate
        rng.choice([0, 1, 4, 65535]),  # block align
        rng.choice([0, 1, 8, 16, 33, 64]),  # bits per sample
    )
    data = rng.randbytes(rng.randrange(0, 4000))
    size = rng.choice([len(data), 0, 2**32 - 1, len(data) * 10])
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size)
    return (
        b"RIFF"
        + struct.pack("<I", rng.choice([0, 2**32 - 1, len(body) + len(data)]))
        + (body + data)
    )


def generate(folder: Path, sources: list[Path], count: int, rng: random.Random) -> list[Path]:
    """``count`` inputs in ``folder``, each with a name no other one shares (stem included)."""
    folder.mkdir(parents=True, exist_ok=True)
    real = [p.read_bytes() for p in sources]
    suffixes = [p.suffix for p in sources]
    made: list[Path] = []
    for n in range(count):
        kind = n % 6
        odd = ODD_NAMES[n % len(ODD_NAMES)] if rng.random() < 0.3 else "in"
        stem = f"{n:03d}-{odd}"
        if kind == 0:  # a real file cut anywhere: in the headers, mid-packet, at the end
            i = rng.randrange(len(real))
            data = real[i][: rng.randrange(0, len(real[i]))]
            suffix = suffixes[i]
        elif kind == 1:  # random bytes under a media name
            data = rng.randbytes(rng.choice([0, 1, 44, 512, 5000]))
            suffix = rng.choice([".wav", ".mp3", ".ogg", ".flac", ".m4a", ".mkv", ".webm"])
        elif kind == 2:
            data, suffix = lying_wav(rng), ".wav"
        elif kind == 3:  # a real file with bytes flipped in the middle
            i = rng.randrange(len(real))
            data = bytearray(real[i])
            for _ in range(rng.randrange(1, 40)):
                data[rng.randrange(len(data) // 4, len(data))] = rng.randrange(256)
            data, suffix = bytes(data), suffixes[i]
        elif kind == 4:  # the right header, another format's body
            i, j = rng.randrange(len(real)), rng.randrange(len(real))
            cut = rng.randrange(1, 200)
            data, suffix = real[i][:cut] + real[j][cut:], suffixes[i]
        else:  # well-formed but odd: rates from 1 Hz, up to 8 channels, 8- to 32-bit
            rate = rng.choice([1, 100, 8000, 11025, 22050, 96000, 192000])
            data = wav_bytes(rate, rng.randrange(1, 9), rng.choice([1, 2, 3, 4]),
                             rng.choice([0.0, 0.01, 0.3]), rng)  # fmt: skip
            suffix = ".wav"
        path = folder / f"{stem}{suffix}"
        path.write_bytes(data)
        made.append(path)
    return made


def check_outcome(stderr: str, inputs: list[Path], written: dict[str, list[Path]]) -> int:
    """Every input either failed with exactly one error line naming it (and has no outputs),
    or has its outputs and no error line. Returns how many failed."""
    assert "Traceback" not in stderr, stderr[-3000:]
    error_lines = [line for line in stderr.splitlines() if line.startswith("voxtune: error: ")]
    failed = 0
    for path in inputs:
        mine = [line for line in error_lines if line.startswith(f"voxtune: error: {path}: ")]
        outputs = written.get(path.stem, [])
        if mine:
            failed += 1
            assert len(mine) == 1, mine
            assert outputs == [], (path, outputs)
        else:
            assert outputs, f"{path}: neither an error nor an output"
    named = sum(
        any(line.startswith(f"voxtune: error: {p}: ") for p in inputs) for line in error_lines
    )
    assert named == len(error_lines), [line[:200] for line in error_lines]
    return failed


def outputs_by_stem(folder: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in folder.iterdir() if folder.is_dir() else ():
        assert not path.name.startswith("."), f"temp file left behind: {path}"
        found.setdefault(path.stem, []).append(path)
    return found


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, english_dev) -> list[Path]:
    folder = tmp_path_factory.mktemp("fuzz-sources")
    short = english_dev[4].path
    return [
        make_media(fmt, short, folder, seconds=1.5).path
        for fmt in ("wav", "mp3", "ogg", "flac", "m4a", "webm")
    ]


def test_transcribe_survives_hundreds_of_bad_inputs(
    tmp_path: Path, sources: list[Path], capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("TQDM_DISABLE", "1")
    rng = random.Random(SEED)
    inputs = generate(tmp_path / "in", sources, 160, rng)
    good = [tmp_path / "in" / f"good-{s.suffix[1:]}{s.suffix}" for s in sources[:2]]
    for source, copy in zip(sources, good, strict=False):
        copy.write_bytes(source.read_bytes())
    out = tmp_path / "out"
    code = main(["transcribe", *map(str, inputs + good), "-f", "txt,json", "-o", str(out), "-q",
                 "--beam-size", "1"])  # fmt: skip
    stderr = capfd.readouterr().err
    written = outputs_by_stem(out)
    failed = check_outcome(stderr, inputs + good, written)
    assert all(len(written[g.stem]) == 2 for g in good)  # the good ones: both formats
    assert failed > len(inputs) // 2  # most of them are unreadable, and said to be
    assert code == 1 and f"voxtune: {failed} of {len(inputs) + len(good)} files failed" in stderr


def test_batch_survives_a_folder_of_bad_inputs(tmp_path: Path, sources: list[Path]) -> None:
    rng = random.Random(SEED + 1)
    folder = tmp_path / "in"
    inputs = generate(folder, sources, 60, rng)
    good = folder / f"good{sources[0].suffix}"
    good.write_bytes(sources[0].read_bytes())
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "voxtune.app", "batch", str(folder), "-f", "txt", "-o", str(out),
         "--beam-size", "1"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TQDM_DISABLE": "1", "VOXTUNE_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    inputs = [p.resolve() for p in [*inputs, good]]  # batch names files by resolved path
    failed = check_outcome(result.stderr, inputs, outputs_by_stem(out))
    assert (out / "good.txt").read_text(encoding="utf-8").strip()
    assert result.returncode == 1 and failed > 0
    assert result.stderr.splitlines()[-1].startswith(f"voxtune: {len(inputs) - failed} of ")


def test_the_generator_makes_what_it_says(tmp_path: Path, sources: list[Path]) -> None:
    """Distinct stems (so no output overwrites another) and every kind represented."""
    made = generate(tmp_path, sources, 60, random.Random(SEED))
    assert len({p.stem for p in made}) == 60
    assert {p.suffix for p in made} >= {".wav", ".mp3", ".ogg"}
    assert any(p.stat().st_size == 0 for p in made) or any(p.stat().st_size < 100 for p in made)
    assert np.mean([p.suffix == ".wav" for p in made]) < 0.8
