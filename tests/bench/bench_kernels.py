"""One LoRA training step with Voxtune's Triton kernels against plain transformers + peft.

Two models with random weights (no weights can be fetched), built from their real dimensions:
a Qwen3-ASR-0.6B-shaped text model (28 layers, 1024 wide, the 151,936-token vocabulary: the
encoder is frozen and its outputs cached in a tune, so the step starts from embeddings) and a
Whisper small- or base-shaped model (log-mel features through encoder and decoder). Both
variants get the same LoRA (dropout 0: the fused kernel's condition) on q/k/v/o and the MLP,
the same inputs and the same precision. ``plain`` calls ``model(..., labels=...)`` as a
transformers + peft loop does; ``kernels`` runs ``voxtune.kernels.dispatch.patch_model`` first
(fused LoRA linears, norms) and computes the loss from the hidden states with the chunked
cross-entropy, as the families' tuning loss does with kernels on. Each (model, variant) runs in
its own child process so that its peak memory is its own: ``torch.cuda.max_memory_allocated``
on a GPU, the process's peak RSS on the CPU. Printed: the loss (both variants must agree),
step time (mean of ``--steps`` after ``--warmup``), peak memory, and kernels / plain ratios.

    .venv/bin/python tests/bench/bench_kernels.py [--models qwen3,whisper] [--whisper small]
        [--batch 8] [--seq 256] [--steps 3] [--warmup 1] [--precision autocast]
    # CPU proof that it runs (Triton's interpreter, tiny shapes; figures mean nothing):
    .venv/bin/python tests/bench/bench_kernels.py --interpret --tiny
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

VARIANTS = ("plain", "kernels")
RANK, ALPHA = 16, 32
# The Linear layers both variants wrap in LoRA (Voxtune's "attention+mlp" preset).
QWEN3_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
WHISPER_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]

# Qwen3-ASR-0.6B's text model and Whisper's published sizes (config.json of each checkpoint).
QWEN3_TEXT = {
    "0.6b": dict(
        vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128,
    ),
    "tiny": dict(
        vocab_size=1000, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16,
    ),
}  # fmt: skip
WHISPER = {
    "small": dict(d_model=768, layers=12, heads=12, ffn=3072, positions=1500),
    "base": dict(d_model=512, layers=6, heads=8, ffn=2048, positions=1500),
    "tiny": dict(d_model=64, layers=2, heads=4, ffn=96, positions=50),
}
WHISPER_VOCAB = 51865


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="qwen3,whisper")
    parser.add_argument("--whisper", choices=("small", "base"), default="small")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes (interpreter runs)")
    parser.add_argument("--interpret", action="store_true", help="TRITON_INTERPRET=1, CPU")
    parser.add_argument("--device", default=None, help="default: cuda if there is one, else cpu")
    parser.add_argument("--batch", type=int, default=None, help="default 8 (tiny: 2)")
    parser.add_argument("--seq", type=int, default=None, help="Qwen3 tokens (tiny: 24)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (tiny: 1)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (tiny: 0)")
    parser.add_argument(
        "--precision",
        choices=("autocast", "float32", "bfloat16"),
        default=None,
        help="autocast: float32 weights, bfloat16 autocast (the tune's GPU default); "
        "bfloat16: weights in bfloat16. Default: autocast on a GPU, float32 on the CPU",
    )
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.interpret:
        args.device = "cpu"
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    small = args.tiny
    args.batch = args.batch or (2 if small else 8)
    args.seq = args.seq or (24 if small else 256)
    args.steps = args.steps if args.steps is not None else (1 if small else 3)
    args.warmup = args.warmup if args.warmup is not None else (0 if small else 1)
    if args.precision is None:
        args.precision = "autocast" if args.device.startswith("cuda") else "float32"
    return args


def build(model: str, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """(model, inputs, labels, LoRA targets) with random weights, fixed seeds."""
    import torch

    torch.manual_seed(0)
    if model == "qwen3":
        from transformers import Qwen3Config, Qwen3ForCausalLM

        text = QWEN3_TEXT["tiny" if args.tiny else "0.6b"]
        config = Qwen3Config(**text, tie_word_embeddings=True, rope_theta=1000000.0)
        # The text model Qwen3-ASR tunes: the step starts from embeddings, as with cached
        # audio; the answer (the last quarter of the tokens) is the only target.
        network = Qwen3ForCausalLM(config)
        generator = torch.Generator().manual_seed(1)
        ids = torch.randint(0, text["vocab_size"], (args.batch, args.seq), generator=generator)
        labels = ids.clone()
        labels[:, : args.seq * 3 // 4] = -100
        return network, {"input_ids": ids}, labels, QWEN3_TARGETS
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    size = WHISPER["tiny" if args.tiny else args.whisper]
    special = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    config = WhisperConfig(
        **(special if args.tiny else {}),
        vocab_size=WHISPER_VOCAB if not args.tiny else 500, num_mel_bins=80,
        d_model=size["d_model"], encoder_layers=size["layers"], decoder_layers=size["layers"],
        encoder_attention_heads=size["heads"], decoder_attention_heads=size["heads"],
        encoder_ffn_dim=size["ffn"], decoder_ffn_dim=size["ffn"],
        max_source_positions=size["positions"], max_target_positions=448,
    )  # fmt: skip
    network = WhisperForConditionalGeneration(config)
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(args.batch, 80, 2 * size["positions"], generator=generator)
    tokens = min(args.seq, 96)  # a Whisper target is a sentence, not a document
    labels = torch.randint(3, config.vocab_size, (args.batch, tokens), generator=generator)
    inputs = {"input_features": features, "decoder_input_ids": labels.roll(1, dims=1)}
    return network, inputs, labels, WHISPER_TARGETS


def plain_loss(model, inputs, labels):  # type: ignore[no-untyped-def]
    return model(**inputs, labels=labels).loss


def kernel_loss(model, inputs, labels, device: str):  # type: ignore[no-untyped-def]
    """As the families' tuning loss with kernels on: hidden states to the chunked loss."""
    from voxtune.kernels.dispatch import chunked_loss_head, vocabulary_loss

    head = chunked_loss_head(model, device)
    if head is None:
        return plain_loss(model, inputs, labels)
    hidden = model.model(**inputs).last_hidden_state
    if "input_ids" in inputs:  # causal LM: position t predicts token t + 1
        return vocabulary_loss(head, hidden[:, :-1], labels[:, 1:])
    return vocabulary_loss(head, hidden, labels)


def child(model_name: str, variant: str, args: argparse.Namespace) -> dict[str, object]:
    import torch
    from peft import LoraConfig, get_peft_model

    from voxtune.kernels.dispatch import patch_model

    device = args.device
    network, inputs, labels, targets = build(model_name, args)
    if args.precision == "bfloat16":
        network = network.to(torch.bfloat16)
    lora = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=targets)
    trainable = get_peft_model(network, lora).to(device)
    inputs = {k: v.to(device) for k, v in inputs.items()}
    if "input_features" in inputs:
        inputs["input_features"] = inputs["input_features"].to(network.dtype)
    labels = labels.to(device)
    summary = "plain transformers + peft"
    if variant == "kernels":
        summary = patch_model(trainable, "auto").summary()
    optimizer = torch.optim.AdamW([p for p in trainable.parameters() if p.requires_grad], 1e-4)
    autocast = torch.autocast(
        device.split(":")[0], dtype=torch.bfloat16, enabled=args.precision == "autocast"
    )

    def step() -> float:
        with autocast:
            if variant == "kernels":
                loss = kernel_loss(network, inputs, labels, device)
            else:
                loss = plain_loss(network, inputs, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss)

    cuda = device.startswith("cuda")
    trainable.train()
    first = None
    for _ in range(args.warmup):
        first = step() if first is None else first
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
        first = loss if first is None else first
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / max(1, args.steps)
    if cuda:
        peak = int(torch.cuda.max_memory_allocated())
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {"loss": first, "seconds": seconds, "peak": peak, "kernels": summary}


def main() -> int:
    args = parse()
    if args.interpret:
        os.environ["TRITON_INTERPRET"] = "1"  # before anything imports triton
    if args.child:
        print(json.dumps(child(*args.child, args)))
        return 0
    memory = "max_memory_allocated" if args.device.startswith("cuda") else "peak RSS"
    print(
        f"device {args.device}{' (Triton interpreter)' if args.interpret else ''}, "
        f"precision {args.precision}, batch {args.batch}, {args.seq} tokens (Qwen3), "
        f"{args.warmup} warm-up + {args.steps} timed steps, LoRA r {RANK}, dropout 0"
    )
    print(f"{'model':<22}{'variant':<9}{'loss':>9}{'step s':>10}{memory + ' MiB':>26}  patched")
    for model in args.models.split(","):
        label = model if not args.tiny else f"{model} (tiny)"
        if model == "qwen3" and not args.tiny:
            label = "qwen3-asr-0.6b text"
        if model == "whisper" and not args.tiny:
            label = f"whisper-{args.whisper}"
        figures = {}
        for variant in VARIANTS:
            command = [sys.executable, __file__, *sys.argv[1:], "--child", model, variant]
            done = subprocess.run(command, capture_output=True, text=True, env=os.environ)
            if done.returncode != 0:
                print(f"{label:<22}{variant:<9} failed:\n{done.stderr[-3000:]}")
                return 1
            result = json.loads(done.stdout.strip().splitlines()[-1])
            figures[variant] = result
            print(
                f"{label:<22}{variant:<9}{result['loss']:>9.4f}{result['seconds']:>10.3f}"
                f"{result['peak'] / 2**20:>26.0f}  {result['kernels']}"
            )
        plain, fused = figures["plain"], figures["kernels"]
        print(
            f"{label:<22}{'ratio':<9}{'':>9}{fused['seconds'] / plain['seconds']:>10.2f}"
            f"{fused['peak'] / plain['peak']:>26.2f}  kernels / plain "
            f"(loss difference {abs(fused['loss'] - plain['loss']):.2e})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
