"""Decoding a 10-minute Ogg Opus file: wall time and peak memory against the array it gives.

The file is real speech (IVR prompts joined end to end). Each way of decoding runs in its own
child process, which records its peak RSS (``getrusage``) before and after decoding; the
growth divided by the size of the decoded array says how many copies of the audio were held
at once. ``decode_audio`` should sit near 1; a list of frames joined at the end sits near 2.

    .venv/bin/python tests/bench/bench_decode.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
RATE = 16000
METHODS = {
    "decode_audio": "Voxtune decode_audio, whole file",
    "decode_audio_tail": "Voxtune decode_audio, last 10 s (seeks)",
    "iter_audio": "Voxtune iter_audio, 30 s chunks dropped as they come",
    "pyav_concatenate": "plain PyAV, list of frames + np.concatenate",
    "faster_whisper": "faster_whisper.decode_audio (reference)",
}


def build_file(directory: Path, minutes: float) -> Path:
    sys.path.insert(0, str(TESTS))
    import numpy as np
    from conftest import read_manifest
    from media_factory import AudioSpec, concatenate_speech, write_media

    wanted = round(minutes * 60 * RATE)
    signal = concatenate_speech([u.path for u in read_manifest("ivr.tsv")])
    # The set holds about 19 minutes; a longer request repeats it.
    signal = np.tile(signal, -(-wanted // len(signal)))[:wanted]
    spec = AudioSpec("ogg", "libopus", 48000, 1, bit_rate=64_000)
    return write_media(directory / "long.ogg", signal[None, :wanted], RATE, spec)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def decode_with(method: str, path: Path) -> int:
    """Decode ``path`` as ``method`` says; the number of samples held at the end."""
    import numpy as np

    if method == "decode_audio":
        from voxtune.engine.audio import decode_audio

        return len(decode_audio(path))
    if method == "decode_audio_tail":
        from voxtune.engine.audio import decode_audio, probe

        return len(decode_audio(path, start=probe(path).duration - 10.0))
    if method == "iter_audio":
        from voxtune.engine.audio import iter_audio

        return sum(len(chunk) for chunk in iter_audio(path, chunk_seconds=30.0))
    if method == "pyav_concatenate":
        import av

        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        parts = []
        with av.open(str(path)) as container:
            for frame in container.decode(audio=0):
                parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
        return len(np.concatenate(parts))
    from faster_whisper.audio import decode_audio as fw_decode

    return len(fw_decode(str(path), sampling_rate=RATE))


def child(method: str, path: Path) -> None:
    import av  # noqa: F401  (imports and their memory belong to the baseline)
    import numpy  # noqa: F401

    import voxtune.engine.audio  # noqa: F401

    before = peak_rss_bytes()
    started = time.perf_counter()
    samples = decode_with(method, path)
    seconds = time.perf_counter() - started
    growth = peak_rss_bytes() - before
    print(json.dumps({"samples": samples, "seconds": seconds, "growth": growth, "base": before}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--build", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return 0
    if args.build:
        print(build_file(Path(args.build), args.minutes))
        return 0
    # This process stays small: a child starts with its parent's peak RSS as its own.
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        command = [sys.executable, __file__, "--minutes", str(args.minutes), "--build", folder]
        built = subprocess.run(command, capture_output=True, text=True, check=True)
        path = Path(built.stdout.splitlines()[-1])
        print(
            f"built {path.name}: {args.minutes:g} min of IVR speech, Ogg Opus, "
            f"{path.stat().st_size / 1e6:.1f} MB, in {time.perf_counter() - started:.1f} s"
        )
        header = f"{'method':55} {'wall s':>7} {'array MB':>9} {'peak RSS +MB':>13} {'copies':>7}"
        print(header + f" {'(after imports)':>16}")
        for method, label in METHODS.items():
            result = subprocess.run(
                [sys.executable, __file__, "--child", method, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(result.stdout.splitlines()[-1])
            array = row["samples"] * 4
            print(
                f"{label:55} {row['seconds']:7.2f} {array / 1e6:9.1f} "
                f"{row['growth'] / 1e6:13.1f} {row['growth'] / max(array, 1):7.2f}"
                f" {row['base'] / 1e6:13.0f} MB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
