"""The multilingual built-in ``whisper-base``: two packages' parts imported as one model.

Heavier than tiny.en (ten German and French utterances through two decoders), so it has its
own file.
"""

from __future__ import annotations

from pathlib import Path

import ctranslate2
import pytest
import torch

from voxtune.engine.audio import decode_audio
from voxtune.engine.models import load_model
from voxtune.engine.models.builtin import BUILTIN_MODELS

BASE = "whisper-base"


@pytest.fixture(scope="module")
def base():  # -> LoadedModel
    return load_model(BASE)


@pytest.fixture(scope="module")
def base_ct2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same model joined into one folder, the only form CTranslate2 itself reads."""
    source = BUILTIN_MODELS[BASE]()
    folder = tmp_path_factory.mktemp("ct2-base")
    with open(folder / "model.bin", "wb") as joined:
        for part in source.weights:
            joined.write(part.read_bytes())
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (folder / name).write_bytes((source.files / name).read_bytes())
    return folder


def test_base_is_multilingual(base) -> None:
    info = base.info
    assert info.multilingual and len(info.languages) == 99
    assert {"en", "de", "fr", "es", "pt"} <= set(info.languages)
    tok = base.processor.tokenizer
    gen = base.model.generation_config
    assert gen.is_multilingual is True
    assert gen.lang_to_id["<|de|>"] == tok.convert_tokens_to_ids("<|de|>")
    assert gen.task_to_id == {
        "transcribe": tok.convert_tokens_to_ids("<|transcribe|>"),
        "translate": tok.convert_tokens_to_ids("<|translate|>"),
    }
    assert gen.decoder_start_token_id == tok.convert_tokens_to_ids("<|startoftranscript|>")
    assert gen.no_timestamps_token_id == tok.all_special_ids[-1]
    assert (base.model.config.d_model, base.model.config.decoder_layers) == (512, 6)


def test_greedy_text_matches_ctranslate2_in_german_and_french(
    base, base_ct2_dir: Path, dev_set
) -> None:
    tok = base.processor.tokenizer
    utterances = [u for u in dev_set if u.language in ("de", "fr")]
    assert len(utterances) == 10
    for language in ("de", "fr"):
        # One batch per language: both decoders run the five utterances side by side.
        batch = [u for u in utterances if u.language == language]
        audio = [decode_audio(u.path) for u in batch]
        features = base.processor(audio, sampling_rate=16000, return_tensors="pt").input_features
        with torch.no_grad():
            out = base.model.generate(features, num_beams=1, do_sample=False, language=language)
        ours = [[t for t in row if t < tok.eos_token_id] for row in out.tolist()]
        prompt = tok.convert_tokens_to_ids(
            ["<|startoftranscript|>", f"<|{language}|>", "<|transcribe|>", "<|notimestamps|>"]
        )
        reference = ctranslate2.models.Whisper(
            str(base_ct2_dir), intra_threads=torch.get_num_threads()
        )
        results = reference.generate(
            ctranslate2.StorageView.from_array(features.numpy()),
            [prompt] * len(batch),
            beam_size=1,
        )
        for utterance, our_ids, result in zip(batch, ours, results, strict=True):
            theirs = result.sequences_ids[0]
            assert tok.decode(our_ids) == tok.decode(theirs), utterance.path.name
            assert len(our_ids) > 5
