"""A Qwen3-ASR-0.6B-shaped random model exported to GGUF and run by llama.cpp (libmtmd)
against Voxtune's torch path: greedy tokens, logit differences, sizes, times.

Too big for CI (about 0.9 B parameters: 3.6 GB in float32), so a bench. The model is
``tune_factory.build_qwen3_asr_0_6b_shaped``: Qwen3-ASR-0.6B's shapes (audio encoder 896
wide, 18 layers; Qwen3 decoder 1024 wide, 28 layers, 151,936 tokens), random (seeded)
weights, the tests' small tokenizer (ids past it are written as unused tokens). Random
weights make near-ties between the best two tokens likely, so each step reports the torch
margin (best minus second logit): a token that differs where the margin is below the logit
difference is a tie, not an error. llama.cpp is fed torch's tokens, so every step's logits
answer the same prefix.

    .venv/bin/python tests/bench/bench_gguf_qwen3.py [--quants f32,f16,q8_0] [--steps 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
SPEECH = TESTS.parent / "assets" / "eval-en" / "fleurs-en-000.ogg"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quants", default="f32,f16,q8_0")
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    from voxtune.engine.audio import decode_audio
    from voxtune.engine.export.gguf_export import GgufExportRequest, export_gguf
    from voxtune.engine.families.qwen3_asr.transcriber import Chunk, Qwen3Transcriber
    from voxtune.engine.models import ModelRequest, build_model
    from voxtune.engine.types import TranscriptionOptions

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-gguf-"))
    model = work / "qwen3-asr-0.6b-shaped"
    started = time.perf_counter()
    if not (model / "model.safetensors").is_file():
        from tune_factory import build_qwen3_asr_0_6b_shaped

        build_qwen3_asr_0_6b_shaped(model)
    print(f"model built in {time.perf_counter() - started:.0f} s: {model}", flush=True)
    audio = decode_audio(SPEECH)[: args.seconds * 16000 - 80]  # whole conv chunks, no padding

    started = time.perf_counter()
    ready = build_model(ModelRequest(name=str(model)))
    transcriber = Qwen3Transcriber(ready.loaded)
    inputs = transcriber.inputs([Chunk(audio, 0.0)], TranscriptionOptions())
    generation = transcriber.generate(inputs, args.steps)
    torch_seconds = time.perf_counter() - started
    torch_ids = generation.sequences[0, generation.prompt_length :].tolist()
    torch_logits = generation.logits[0].float().numpy()
    prompt = inputs["input_ids"][0].tolist()
    tokenizer = ready.loaded.processor.tokenizer
    start = prompt.index(tokenizer.convert_tokens_to_ids("<|audio_start|>"))
    end = prompt.index(tokenizer.convert_tokens_to_ids("<|audio_end|>"))
    del ready, transcriber
    ordered = np.sort(torch_logits, axis=-1)
    margins = (ordered[:, -1] - ordered[:, -2]).tolist()

    results = []
    for quant in args.quants.split(","):
        out = work / f"gguf-{quant}"
        started = time.perf_counter()
        export_gguf(GgufExportRequest(model=str(model), out=out, quant=quant, manifest=None))
        export_seconds = time.perf_counter() - started
        started = time.perf_counter()
        exported = build_model(ModelRequest(name=str(out)))
        runner = exported.loaded.model
        llama = runner.generate(
            prompt[:start], audio, prompt[end + 1 :], max_new_tokens=args.steps,
            stop=(), keep_logits=True, force=torch_ids,
        )  # fmt: skip
        llama_seconds = time.perf_counter() - started
        # Fed torch's tokens, llama.cpp's logits at every step answer the same prefix.
        steps = min(len(llama.logits), len(torch_logits))
        differences = np.abs(llama.logits[:steps] - torch_logits[:steps]).max(axis=-1)
        differ = [i for i in range(steps) if llama.ids[i] != torch_ids[i]]
        results.append({
            "quant": quant,
            "model_gguf_mb": round((out / "model.gguf").stat().st_size / 1e6, 1),
            "mmproj_gguf_mb": round((out / "mmproj.gguf").stat().st_size / 1e6, 1),
            "export_seconds": round(export_seconds, 1),
            "llamacpp_seconds": round(llama_seconds, 1),
            "audio_tokens": llama.audio_tokens,
            "same_greedy_token": f"{steps - len(differ)}/{steps}",
            "differing_steps_within_a_tie": int(sum(margins[i] <= differences[i] for i in differ)),
            "max_logit_difference": float(differences.max()),
            "median_logit_difference": float(np.median(differences)),
            "torch_logit_std": float(torch_logits.std()),
        })  # fmt: skip
        runner.close()
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"torch_seconds": round(torch_seconds, 1), "steps": args.steps,
                      "torch_ids": torch_ids, "margins": margins[: args.steps]}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
