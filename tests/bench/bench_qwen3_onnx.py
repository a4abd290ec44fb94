"""Qwen3-ASR on the CPU: torch against its ONNX export, greedy, on real speech.

A random model with Qwen3-ASR-0.6B's real dimensions (``tune_factory``: 18-layer 896-wide
encoder, 28-layer 1024-wide text model, the 151,936-token vocabulary) is built, exported with
``voxtune export onnx`` (float32, and int8 with ``--int8``), and both engines transcribe the
same FLEURS clip cut to ``--seconds`` (no VAD: one chunk). Random weights never write an end
token, so each decodes its full token budget (8 a second + 16): the figures are real-time
factors for that many tokens. Printed: wall seconds and RTF per engine, whether the greedy
tokens are the same, and the largest logit difference over the steps both took alike.

    .venv/bin/python tests/bench/bench_qwen3_onnx.py [--seconds 10] [--int8] [--threads N]
        [--work DIR]   # keeps the model and exports there between runs
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VOXTUNE_TEST_DATA", TESTS.parents[0].parent / "shared" / "data"))
CLIP = DATA / "fleurs" / "fleurs-en-000.ogg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--int8", action="store_true", help="also export and time int8")
    parser.add_argument("--threads", type=int, default=None, help="torch and onnxruntime")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-qwen3-onnx-"))
    work.mkdir(parents=True, exist_ok=True)

    import torch

    from voxtune.engine.torch_threads import set_torch_threads

    set_torch_threads(args.threads)
    print(f"threads: torch {torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}")
    sys.path.insert(0, str(TESTS))
    from tune_factory import build_qwen3_asr_0_6b_shaped

    from voxtune.engine.audio import decode_audio
    from voxtune.engine.export.onnx_export import OnnxExportRequest, export_onnx
    from voxtune.engine.families.qwen3_asr.transcriber import Chunk
    from voxtune.engine.models import ModelRequest, build_model
    from voxtune.engine.models.loader import clear_model_cache
    from voxtune.engine.types import TranscriptionOptions

    source = work / "qwen3-asr-0.6b-shaped"
    if not (source / "model.safetensors").is_file():
        started = time.perf_counter()
        build_qwen3_asr_0_6b_shaped(source)
        print(f"built the 0.6B-shaped model in {time.perf_counter() - started:.0f} s")
    exports = {"float32": work / "onnx-float32"}
    if args.int8:
        exports["int8"] = work / "onnx-int8"
    for quantisation, out in exports.items():
        if not (out / "voxtune-onnx.json").is_file():
            started = time.perf_counter()
            export_onnx(OnnxExportRequest(str(source), out, quantize=quantisation, manifest=None))
            took, size = time.perf_counter() - started, sum(p.stat().st_size for p in out.iterdir())
            print(f"exported {quantisation} in {took:.0f} s, {size / 1e9:.2f} GB")
    clear_model_cache()
    gc.collect()

    audio = decode_audio(CLIP)[: int(16000 * args.seconds)]
    seconds = len(audio) / 16000
    tokens = int(seconds * 8) + 16  # the transcriber's budget for a chunk this long
    results = {}
    for engine, name in [("torch", source), *[(f"onnx {q}", p) for q, p in exports.items()]]:
        transcriber = build_model(ModelRequest(name=str(name))).offline_transcriber()
        inputs = transcriber.inputs([Chunk(audio, 0.0)], TranscriptionOptions(beam_size=1))
        transcriber.generate(inputs, 2, 1)  # warm up: first-call allocations
        started = time.perf_counter()
        generation = transcriber.generate(inputs, tokens, 1)
        wall = time.perf_counter() - started
        results[engine] = generation
        new = generation.sequences.shape[1] - generation.prompt_length
        print(f"{engine:<14} {wall:7.2f} s  RTF {wall / seconds:6.3f}  ({new} tokens, "
              f"{new / wall:5.1f} tokens/s)")  # fmt: skip
        del transcriber
        clear_model_cache()
        gc.collect()
    reference = results["torch"]
    start = reference.prompt_length
    for engine, generation in results.items():
        if engine == "torch":
            continue
        ours, theirs = generation.sequences[0, start:], reference.sequences[0, start:]
        alike = int((ours == theirs).long().cumprod(0).sum())
        difference = (generation.logits[0, : alike + 1] - reference.logits[0, : alike + 1]).abs()
        print(f"{engine}: {alike}/{len(theirs)} greedy tokens equal before the first "
              f"difference; largest logit difference there {difference.max().item():.2e} "
              f"(largest logit {reference.logits.abs().max().item():.1f})")  # fmt: skip
    print(f"audio {seconds:.1f} s of {CLIP.name}; work folder {work}")


if __name__ == "__main__":
    main()
