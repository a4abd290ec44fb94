"""Qwen3-ASR tuning: the tiny random model (real layout) on real speech from ../shared/data.

Its WER means nothing (random weights); what is checked is that the answer tokens are the
only targets, that LoRA and full tuning learn and touch only the part asked for, that the
adapter loads with peft, that ``--merge`` transcribes through ``voxtune transcribe``, and that
a killed run resumes to the same steps and weights.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from conftest import Utterance
from safetensors.torch import load_file
from tune_factory import build_trainable_qwen3, kill_after_checkpoint, voxtune

from voxtune.engine.audio import decode_audio
from voxtune.engine.families.qwen3_asr.tune import Qwen3Family
from voxtune.engine.models import load_model
from voxtune.engine.tune import TuneConfig, run_tune
from voxtune.engine.tune.datasets import read_dataset
from voxtune.engine.tune.validation import check_rows

ADAPTER_WEIGHTS = "adapter/adapter_model.safetensors"
CLIPS = (
    "Please enter your password followed by the pound key.",
    "Agent logged in.",
    "Please enter a new extension, followed by pound.",
)


@pytest.fixture(scope="module")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_trainable_qwen3(tmp_path_factory.mktemp("qwen3") / "tiny-qwen3")


@pytest.fixture(scope="module")
def clips(ivr_set: list[Utterance], tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = [next(u for u in ivr_set if u.reference == text) for text in CLIPS]
    manifest = tmp_path_factory.mktemp("qwen3-data") / "clips.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"audio": str(u.path), "text": u.reference, "language": u.language}) + "\n"
            for u in chosen
        ),
        encoding="utf-8",
    )
    return manifest


def tune_args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "finetune", "--base", str(model), "--data", str(data), "--out", str(out),
        "--batch-size", "3", "--rank", "4", "--alpha", "8", "--seed", "2",
        "--validation-fraction", "0", *extra,
    ]  # fmt: skip


def test_the_answer_is_the_only_target_and_cached_encoding_changes_nothing(
    tiny_qwen3: Path, clips: Path
) -> None:
    loaded = load_model(str(tiny_qwen3))
    family = Qwen3Family(loaded)
    rows, bad = check_rows(read_dataset(clips), family.count_tokens, family.max_text_tokens())
    assert len(rows) == 3 and bad == []
    options = {"default_language": None, "device": "cpu"}
    plain = family.build_examples(rows, loaded.model, encode=False, **options)
    cached = family.build_examples(rows, loaded.model, encode=True, **options)
    tokenizer = loaded.processor.tokenizer

    ids, mask, targets = family.collate(plain, "cpu")
    for row, example in enumerate(plain):
        answer = targets[row][targets[row] != -100]
        assert tokenizer.decode(answer) == f"language English<asr_text>{CLIPS[row]}<|im_end|>"
        start = len(example.prompt)  # targets begin right after the prompt, nothing is skipped
        assert ids[row, :start].tolist() == example.prompt
        assert torch.equal(targets[row, start : start + len(answer)], answer)
        assert torch.equal(ids[row, start : start + len(answer)], answer)
        assert tokenizer.decode(example.prompt).endswith("<|im_start|>assistant\n")
        assert example.prompt.count(loaded.model.config.audio_token_id) > 10
        assert int(mask[row].sum()) == example.length
    # The frozen encoder's cached outputs give the loss that running the encoder gives.
    with torch.no_grad():
        expected = family.loss(loaded.model, plain, "cpu", torch.float32)
        actual = family.loss(loaded.model, cached, "cpu", torch.float32)
    assert cached[0].features is None and cached[0].encoded is not None
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    # ... and the loss transformers computes from the same batch with ``labels``.
    padded = torch.zeros(3, 128, max(e.features.shape[-1] for e in plain))
    frames = torch.zeros(3, padded.shape[-1], dtype=torch.long)
    for row, example in enumerate(plain):
        padded[row, :, : example.features.shape[-1]] = example.features
        frames[row, : example.features_mask.shape[-1]] = example.features_mask
    with torch.no_grad():
        reference = loaded.model(
            input_ids=ids, attention_mask=mask, input_features=padded,
            input_features_mask=frames, labels=targets,
        ).loss  # fmt: skip
    torch.testing.assert_close(expected, reference, rtol=1e-5, atol=1e-5)
    assert 1.0 < expected.item() < 20.0


def test_lora_overfits_a_few_clips_and_the_adapter_loads_with_peft(
    tiny_qwen3: Path, clips: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import Qwen3ASRForConditionalGeneration

    config = TuneConfig(
        data=clips, validation=clips, out=tmp_path / "out", base=str(tiny_qwen3),
        batch_size=3, max_steps=20, learning_rate=1e-2, warmup_fraction=0.0, lora_rank=8,
        lora_alpha=16, lora_dropout=0.0, eval_every=10,
    )  # fmt: skip
    events = list(run_tune(config))

    losses = [e.loss for e in events if e.kind == "tune_step"]
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    # Random output rows make the first loss high; it keeps falling after the first drop.
    assert len(losses) == 20 and losses[-1] < 0.4 * losses[0]
    assert sum(losses[-5:]) / 5 < 0.85 * min(losses[:5])
    evaluations = [e for e in events if e.kind == "tune_eval"]
    assert [e.label for e in evaluations] == ["before", "step", "step", "after"]
    assert all(isinstance(e.wer, float) and e.wer >= 0 for e in evaluations)
    finished = events[-1]
    assert finished.kind == "tune_finished" and finished.steps == 20
    assert finished.wer_before is not None and finished.wer_after is not None

    base = Qwen3ASRForConditionalGeneration.from_pretrained(tiny_qwen3)
    tuned = PeftModel.from_pretrained(base, tmp_path / "out" / "adapter")
    wrapped = [n.removesuffix(".lora_A") for n, _ in tuned.named_modules() if n.endswith("lora_A")]
    assert {n.rsplit(".", 1)[-1] for n in wrapped} == {
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"
    }  # fmt: skip
    assert all(".language_model.layers." in n for n in wrapped)  # the default: the decoder
    weights = load_file(tmp_path / "out" / ADAPTER_WEIGHTS)
    assert any(v.abs().max() > 0 for k, v in weights.items() if "lora_B" in k)


def test_merged_model_loads_and_transcribes_through_the_cli(
    tiny_qwen3: Path, clips: Path, tmp_path: Path, ivr_set: list[Utterance]
) -> None:
    out = tmp_path / "run"
    done = voxtune(
        *tune_args(tiny_qwen3, clips, out, "--max-steps", "3", "--lr", "1e-2"), "--merge"
    )
    assert f"merged model: {out / 'merged'}" in done.stdout

    before = load_file(tiny_qwen3 / "model.safetensors")
    after = load_file(out / "merged" / "model.safetensors")
    assert before.keys() - after.keys() <= {"lm_head.weight"}
    changed = {k for k in after if not torch.equal(before[k], after[k])}
    assert changed and all(".language_model.layers." in k for k in changed)

    audio = next(u for u in ivr_set if u.reference == CLIPS[0]).path
    transcribed = voxtune(
        "transcribe", str(audio), "--model", str(out / "merged"), "-f", "json",
        "-o", str(tmp_path), "-q", "--aligner", "none", "--language", "en",
    )  # fmt: skip
    assert transcribed.returncode == 0
    payload = json.loads((tmp_path / audio.with_suffix(".json").name).read_text())
    assert payload["model"] == "merged"
    assert isinstance(payload["segments"], list)  # random weights: the text means nothing

    manifest = tmp_path / "eval.tsv"  # with a language column: Qwen3-ASR is told it
    manifest.write_text(f"path\tlanguage\treference\n{audio}\ten\t{CLIPS[0]}\n")
    # No --model: the adapter's recorded base (tiny-qwen3), not the default Whisper.
    evaluated = voxtune(
        "eval", str(manifest), "--adapter", str(out / "adapter"), "--aligner", "none", "--no-vad",
    )  # fmt: skip
    assert "model tiny-qwen3+adapter" in evaluated.stdout
    assert re.search(r"^en\s+1\s+[\d.]+$", evaluated.stdout, re.MULTILINE), evaluated.stdout

    # Our loader's merged model computes what the base with the adapter on top computes.
    from peft import PeftModel
    from transformers import Qwen3ASRForConditionalGeneration

    merged = load_model(str(out / "merged"))
    inputs = merged.processor.apply_transcription_request(audio=[decode_audio(audio)])
    unmerged = PeftModel.from_pretrained(
        Qwen3ASRForConditionalGeneration.from_pretrained(tiny_qwen3), out / "adapter"
    ).eval()
    plain = Qwen3ASRForConditionalGeneration.from_pretrained(tiny_qwen3).eval()
    with torch.no_grad():
        expected, actual = unmerged(**inputs).logits, merged.model(**inputs).logits
        untuned = plain(**inputs).logits
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(actual, untuned, atol=1e-3)


def test_killed_run_resumes_to_the_same_steps_and_weights(
    tiny_qwen3: Path, clips: Path, tmp_path: Path
) -> None:
    steps = ["--max-steps", "40", "--lr", "1e-2"]
    voxtune(*tune_args(tiny_qwen3, clips, tmp_path / "whole", *steps))

    out = tmp_path / "killed"
    args = tune_args(tiny_qwen3, clips, out, *steps, "--checkpoint-every", "1")
    killed_at = kill_after_checkpoint(args, out, step=3)

    resumed = voxtune(*args, "--resume")

    assert f"resumed from step {killed_at}" in resumed.stdout
    summary = json.loads((out / "tune-summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] == 40
    whole = load_file(tmp_path / "whole" / ADAPTER_WEIGHTS)
    again = load_file(out / ADAPTER_WEIGHTS)
    assert whole.keys() == again.keys()
    for name, value in whole.items():
        torch.testing.assert_close(again[name], value, rtol=1e-4, atol=1e-6, msg=name)


def test_full_tune_of_the_encoder_changes_only_the_audio_side(
    tiny_qwen3: Path, clips: Path, tmp_path: Path
) -> None:
    config = TuneConfig(
        data=clips, out=tmp_path / "out", base=str(tiny_qwen3), method="full",
        train="encoder", batch_size=3, max_steps=2, validation_fraction=0,
        gradient_checkpointing=True,
    )  # fmt: skip
    finished = list(run_tune(config))[-1]
    assert finished.adapter == str(tmp_path / "out" / "model")
    before = load_file(tiny_qwen3 / "model.safetensors")
    after = load_file(tmp_path / "out" / "model" / "model.safetensors")
    changed = {k for k in after if not torch.equal(before[k], after[k])}
    assert any(".audio_tower.layers.0.self_attn.q_proj" in k for k in changed)
    assert all(".audio_tower." in k or ".multi_modal_projector." in k for k in changed)


def test_lora_on_both_parts_in_bfloat16_registered_as_an_adapter(
    tiny_qwen3: Path, clips: Path, tmp_path: Path
) -> None:
    config = TuneConfig(
        data=clips, out=tmp_path / "out", base=str(tiny_qwen3), train="both",
        lora_targets="attention", lora_rank=2, batch_size=3, max_steps=2, validation_fraction=0,
        precision="bfloat16", register_as="tiny-qwen3-both",
    )  # fmt: skip
    events = list(run_tune(config))
    assert all(math.isfinite(e.loss) for e in events if e.kind == "tune_step")
    names = load_file(tmp_path / "out" / ADAPTER_WEIGHTS).keys()
    layers = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in names}
    assert layers == {"q_proj", "k_proj", "v_proj", "out_proj", "o_proj"}
    assert any(".audio_tower.layers." in n and "out_proj" in n for n in names)
    assert any(".language_model.layers." in n and "o_proj" in n for n in names)
    # Registered without --merge: by name, the loader gives the base with the adapter on.
    loaded = load_model("tiny-qwen3-both")
    assert loaded.info.family == "qwen3_asr" and loaded.info.source == "tuned-adapter"
    wrapped = [n for n, _ in loaded.model.named_modules() if n.endswith("lora_A")]
    assert len(wrapped) == len(names) // 2  # an A and a B matrix for each wrapped layer


def test_rows_in_a_language_qwen3_does_not_know_are_reported(
    tiny_qwen3: Path, clips: Path, tmp_path: Path
) -> None:
    from voxtune.engine.errors import VoxtuneError

    manifest = tmp_path / "mixed.jsonl"
    rows = clips.read_text(encoding="utf-8").splitlines()
    unknown = json.loads(rows[2]) | {"language": "Klingon"}
    named = json.loads(rows[1]) | {"language": "English"}  # names work as well as codes
    manifest.write_text("\n".join([rows[0], json.dumps(named), json.dumps(unknown)]) + "\n")
    config = TuneConfig(
        data=manifest, out=tmp_path / "out", base=str(tiny_qwen3), batch_size=2, max_steps=1,
        validation_fraction=0,
    )  # fmt: skip
    checked = next(e for e in run_tune(config) if e.kind == "tune_data_checked")
    assert checked.train_rows == 2 and len(checked.bad_rows) == 1
    assert str(checked.bad_rows[0]).startswith(
        "mixed.jsonl: row 3: language 'Klingon' is not one Qwen3-ASR knows (ar, cs, da,"
    )
    with pytest.raises(VoxtuneError, match=r"^--language: language 'xx' is not one Qwen3-ASR"):
        list(run_tune(TuneConfig(data=manifest, out=tmp_path / "o2", base=str(tiny_qwen3),
                                 language="xx")))  # fmt: skip
