"""The CTranslate2 → Hugging Face importer, on the real embedded tiny.en.

The reference is CTranslate2 itself: the imported model must decode the same tokens as
``ctranslate2.models.Whisper`` on the same features.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import ctranslate2
import pytest
import torch
from safetensors import safe_open

from voxtune.engine.audio import decode_audio
from voxtune.engine.errors import ModelError
from voxtune.engine.models import import_ctranslate2, load_model, resolve_model
from voxtune.engine.models.builtin import BUILTIN_MODELS
from voxtune.engine.models.manifest import file_sha256, read_manifest

TINY = "whisper-tiny.en"


@pytest.fixture(scope="module")
def tiny_ct2_dir() -> Path:
    return BUILTIN_MODELS[TINY]().files


@pytest.fixture(scope="module")
def tiny():  # -> LoadedModel
    return load_model(TINY)


def test_import_writes_a_complete_hf_directory(tiny) -> None:
    location = tiny.info.location
    for name in (
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "preprocessor_config.json",
        "voxtune-model.json",
    ):
        assert (location / name).is_file(), name
    manifest = read_manifest(location)
    assert manifest is not None
    assert manifest.sha256 == file_sha256(location / "model.safetensors")
    assert (manifest.name, manifest.family, manifest.languages) == (TINY, "whisper", ("en",))
    assert tiny.info.source == "embedded" and not tiny.info.multilingual
    assert tiny.info.size_bytes > 70_000_000
    assert not any(p.name.startswith(".") for p in location.parent.iterdir()), "staging left"


def test_config_follows_the_weights(tiny) -> None:
    config = tiny.model.config
    assert (config.d_model, config.encoder_layers, config.decoder_layers) == (384, 4, 4)
    assert (config.encoder_attention_heads, config.num_mel_bins) == (6, 80)
    assert (config.vocab_size, config.max_target_positions) == (51864, 448)
    assert tiny.processor.feature_extractor.feature_size == 80
    # Tied output: the projection is the embedding matrix itself.
    assert (
        tiny.model.proj_out.weight.data_ptr()
        == tiny.model.get_decoder().embed_tokens.weight.data_ptr()
    )
    with safe_open(str(tiny.info.location / "model.safetensors"), "pt") as weights:
        stored = set(weights.keys())
    assert "proj_out.weight" not in stored
    assert "model.decoder.layers.0.self_attn.k_proj.bias" not in stored


def test_generation_config_ids_come_from_the_tokenizer(tiny, tiny_ct2_dir: Path) -> None:
    tok = tiny.processor.tokenizer
    gen = tiny.model.generation_config
    assert gen.decoder_start_token_id == tok.convert_tokens_to_ids("<|startoftranscript|>")
    assert gen.no_timestamps_token_id == tok.convert_tokens_to_ids("<|notimestamps|>")
    assert gen.prev_sot_token_id == tok.convert_tokens_to_ids("<|startofprev|>")
    assert gen.eos_token_id == gen.pad_token_id == tok.eos_token_id
    assert gen.is_multilingual is False
    assert gen.max_initial_timestamp_index == 50
    ct2_config = json.loads((tiny_ct2_dir / "config.json").read_text())
    assert gen.alignment_heads == ct2_config["alignment_heads"]
    assert gen.suppress_tokens == ct2_config["suppress_ids"]
    assert gen.begin_suppress_tokens == ct2_config["suppress_ids_begin"]


def test_tokenizer_knows_special_and_timestamp_tokens(tiny) -> None:
    tok = tiny.processor.tokenizer
    no_ts = tok.convert_tokens_to_ids("<|notimestamps|>")
    assert tok.all_special_ids[-1] == no_ts
    assert tok.convert_tokens_to_ids(["<|0.00|>", "<|30.00|>"]) == [no_ts + 1, no_ts + 1501]
    words = tok.encode(" hello world", add_special_tokens=False)
    ids = [no_ts + 1, *words, no_ts + 51]  # <|0.00|> hello world <|1.00|>
    assert tok.decode(ids, decode_with_timestamps=True) == "<|0.00|> hello world<|1.00|>"
    decoded = tok.decode(ids, output_offsets=True)
    assert decoded["offsets"] == [{"text": " hello world", "timestamp": (0.0, 1.0)}]


def test_greedy_text_matches_ctranslate2(tiny, tiny_ct2_dir: Path, english_dev) -> None:
    tok = tiny.processor.tokenizer
    assert len(english_dev) == 5
    audio = [decode_audio(u.path) for u in english_dev]
    # One batch: both decoders run the five utterances side by side.
    features = tiny.processor(audio, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        out = tiny.model.generate(features, num_beams=1, do_sample=False)
    ours = [[t for t in row if t < tok.eos_token_id] for row in out.tolist()]
    reference = ctranslate2.models.Whisper(str(tiny_ct2_dir), intra_threads=torch.get_num_threads())
    prompt = tok.convert_tokens_to_ids(["<|startoftranscript|>", "<|notimestamps|>"])
    results = reference.generate(
        ctranslate2.StorageView.from_array(features.numpy()), [prompt] * len(audio), beam_size=1
    )
    for utterance, our_ids, result in zip(english_dev, ours, results, strict=True):
        theirs = result.sequences_ids[0]
        assert tok.decode(our_ids) == tok.decode(theirs), utterance.path.name
        assert our_ids == theirs
        assert len(our_ids) > 5


def test_timestamps_decode_with_offsets(tiny, english_dev) -> None:
    audio = decode_audio(english_dev[0].path)
    features = tiny.processor(audio, sampling_rate=16000, return_tensors="pt").input_features
    out = tiny.model.generate(features, return_timestamps=True)
    decoded = tiny.processor.tokenizer.decode(out[0], output_offsets=True)
    start, end = decoded["offsets"][0]["timestamp"]
    assert start == 0.0 and 0 < end <= len(audio) / 16000 + 1
    assert "communication" in decoded["text"]


@pytest.mark.parametrize("quantization", ["int8", "int16", "int8_float16"])
def test_quantised_ctranslate2_is_dequantised(
    tiny,
    tmp_path: Path,
    quantization: str,
) -> None:
    ct2_dir = tmp_path / f"tiny-{quantization}"
    ctranslate2.converters.TransformersConverter(str(tiny.info.location)).convert(
        str(ct2_dir), quantization=quantization
    )
    assert not (ct2_dir / "tokenizer.json").exists()  # found via the built-in's vocabulary
    info = import_ctranslate2(ct2_dir, name=f"tiny-{quantization}")
    assert info.source == "imported" and info.languages == ("en",)
    original = tiny.model.state_dict()
    with safe_open(str(info.location / "model.safetensors"), "pt") as weights:
        for name in (
            "model.decoder.layers.1.fc1.weight",
            "model.encoder.layers.3.self_attn.q_proj.weight",
        ):
            got, want = weights.get_tensor(name).float(), original[name].float()
            # Rounding error is at most half a quantisation step: int8 has 255 steps per
            # row; CTranslate2's int16 uses one coarse scale for the whole tensor.
            per_row = want.abs().amax(dim=1, keepdim=True)
            tolerance = per_row / 250 if "int8" in quantization else want.abs().max() / 500
            assert ((got - want).abs() <= tolerance).all(), name


def test_truncated_model_bin_is_a_clear_error(tiny_ct2_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_ct2_dir, broken)
    data = (broken / "model.bin").read_bytes()
    (broken / "model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"broken/model\.bin: truncated CTranslate2 model"):
        import_ctranslate2(broken)
    assert read_manifest(resolve_model(TINY).location.parent / "broken") is None


def test_garbage_model_bin_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"PK\x03\x04 not a model at all")
    with pytest.raises(ModelError, match=r"model\.bin: not a CTranslate2 model"):
        import_ctranslate2(tmp_path)


def test_import_of_a_file_or_missing_folder_is_refused(tiny_ct2_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model\.bin: not a directory"):
        import_ctranslate2(tiny_ct2_dir / "model.bin")
    with pytest.raises(ModelError, match=r"nowhere: no such directory"):
        import_ctranslate2(tmp_path / "nowhere")
    with pytest.raises(ModelError, match=r": no model\.bin"):
        import_ctranslate2(tmp_path)


def test_bad_name_is_refused(tiny_ct2_dir: Path) -> None:
    with pytest.raises(ModelError, match=r"'\.\./evil': not a valid model name"):
        import_ctranslate2(tiny_ct2_dir, name="../evil")


def test_tokenizer_of_another_model_is_refused(tiny_ct2_dir: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(tiny_ct2_dir, mixed)
    shutil.copyfile(
        BUILTIN_MODELS["whisper-base"]().files / "tokenizer.json", mixed / "tokenizer.json"
    )
    with pytest.raises(
        ModelError, match=r"mixed/tokenizer\.json: does not match the model's vocab"
    ):
        import_ctranslate2(mixed)


def test_missing_tokenizer_with_unknown_vocabulary_is_refused(
    tiny_ct2_dir: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "odd"
    shutil.copytree(tiny_ct2_dir, odd)
    (odd / "tokenizer.json").unlink()
    vocabulary = (odd / "vocabulary.txt").read_text(encoding="utf-8").replace("Ġthe\n", "Ġteh\n")
    (odd / "vocabulary.txt").write_text(vocabulary, encoding="utf-8")
    with pytest.raises(ModelError, match=r"odd: no tokenizer\.json \(a Hugging Face tokenizers"):
        import_ctranslate2(odd)


@pytest.mark.parametrize("name", ["whisper-base", "whisper-tiny.en", "qwen3-asr-0.6b"])
def test_a_built_in_or_registry_name_is_refused(tiny_ct2_dir: Path, name: str) -> None:
    """Issue 19 item 6: accepted, then silently shadowed by the built-in of that name."""
    from voxtune.engine.models.registry import import_folder

    with pytest.raises(ModelError, match=rf"'{re.escape(name)}': a built-in or registry name"):
        import_folder(tiny_ct2_dir, name=name)


def test_a_folder_named_like_a_built_in_needs_another_name(
    tiny_ct2_dir: Path, tmp_path: Path
) -> None:
    from voxtune.engine.models.registry import import_folder

    copy = tmp_path / "whisper-base"
    shutil.copytree(tiny_ct2_dir, copy)
    with pytest.raises(ModelError, match="choose another --name"):
        import_folder(copy)
    # A name of its own: "my-tiny" is test_models_registry's import in the shared home.
    assert import_folder(copy, name="renamed-tiny").name == "renamed-tiny"
