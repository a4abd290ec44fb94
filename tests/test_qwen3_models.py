"""Qwen3-ASR as a model family: registry entries, both folder layouts, loading."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub
import pytest
from safetensors import safe_open

from voxtune.engine.errors import ModelError
from voxtune.engine.families.qwen3_asr.layout import native_to_original, original_to_native
from voxtune.engine.families.qwen3_asr.registry import DEFAULT_ALIGNER, resolve_qwen3
from voxtune.engine.models import load_model, resolve_model


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache and no network, whatever machine runs the tests."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def tensors(directory: Path) -> dict[str, bytes]:
    """Every tensor's name → its raw bytes (with dtype and shape), to compare bit for bit."""
    found = {}
    with safe_open(str(directory / "model.safetensors"), framework="pt") as handle:
        for name in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
            tensor = handle.get_tensor(name)
            found[name] = f"{tensor.dtype}{tuple(tensor.shape)}".encode() + tensor.numpy().tobytes()
    return found


def test_native_folders_resolve_and_load_by_family(tiny_asr: Path, tiny_aligner: Path) -> None:
    asr = resolve_model(str(tiny_asr))
    assert (asr.family, asr.source, asr.location) == ("qwen3_asr", "local", tiny_asr)
    assert {"en", "de", "fr", "es", "pt", "zh"} <= set(asr.languages)
    aligner = resolve_model(str(tiny_aligner))
    assert aligner.family == "qwen3_forced_aligner"
    assert "vi" not in aligner.languages and "en" in aligner.languages
    loaded = load_model(str(tiny_asr))
    assert type(loaded.model).__name__ == "Qwen3ASRForConditionalGeneration"
    assert not loaded.model.training
    assert type(load_model(str(tiny_aligner)).model).__name__ == "Qwen3ASRForTokenClassification"


@pytest.mark.parametrize("aligner", [False, True])
def test_layout_conversion_round_trips_bit_exactly(
    tiny_asr: Path, tiny_aligner: Path, tmp_path: Path, aligner: bool
) -> None:
    native = tiny_aligner if aligner else tiny_asr
    native_to_original(native, tmp_path / "original")
    original_config = json.loads((tmp_path / "original" / "config.json").read_text())
    assert "thinker_config" in original_config and "audio_config" not in original_config
    original = tensors(tmp_path / "original")
    assert all(name.startswith("thinker.") for name in original)
    assert ("thinker.lm_head.weight" in original) == aligner  # the ASR head is tied
    original_to_native(tmp_path / "original", tmp_path / "native")
    assert tensors(tmp_path / "native") == tensors(native)
    native_to_original(tmp_path / "native", tmp_path / "original-again")
    assert tensors(tmp_path / "original-again") == original
    again = json.loads((tmp_path / "original-again" / "config.json").read_text())
    assert again == original_config


def test_original_layout_is_converted_once_and_computes_the_same(
    tiny_asr: Path, tmp_path: Path
) -> None:
    import torch

    native_to_original(tiny_asr, tmp_path / "qwen-asr-layout")
    info = resolve_model(str(tmp_path / "qwen-asr-layout"))
    assert info.family == "qwen3_asr"
    assert info.location != tmp_path / "qwen-asr-layout"  # the converted copy in the cache
    assert (info.location / "voxtune-model.json").is_file()
    assert resolve_model(str(tmp_path / "qwen-asr-layout")).location == info.location
    converted, reference = load_model(str(tmp_path / "qwen-asr-layout")), load_model(str(tiny_asr))
    torch.manual_seed(1)
    ids = torch.randint(0, 300, (1, 12))
    with torch.inference_mode():
        assert torch.equal(
            converted.model(input_ids=ids).logits, reference.model(input_ids=ids).logits
        )


def test_conversion_refuses_a_folder_of_the_wrong_layout(tiny_asr: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"tiny-qwen3-asr: not an original-layout Qwen3-ASR"):
        original_to_native(tiny_asr, tmp_path / "out")


def test_registry_entries_say_when_the_hub_is_out_of_reach(offline_hub: Path) -> None:
    with pytest.raises(ModelError) as error:
        resolve_model("qwen3-asr-1.7b")
    assert str(error.value) == (
        "cannot reach the Hugging Face Hub to fetch Qwen/Qwen3-ASR-1.7B (offline?)"
    )
    with pytest.raises(ModelError, match=r"^qwen3-forced-aligner-0\.6b: not downloaded"):
        resolve_qwen3(DEFAULT_ALIGNER, download=False)


def test_a_registry_entry_in_the_hub_cache_is_converted_and_named(
    offline_hub: Path, tiny_asr: Path
) -> None:
    # The layout huggingface_hub writes: refs/main names a snapshot with the original layout.
    repo = offline_hub / "models--Qwen--Qwen3-ASR-0.6B"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    native_to_original(tiny_asr, repo / "snapshots" / ("0" * 40))
    info = resolve_model("qwen3-asr-0.6b")
    assert (info.name, info.family, info.source) == ("qwen3-asr-0.6b", "qwen3_asr", "hub")
    assert tensors(info.location) == tensors(tiny_asr)


def test_int8_is_refused_for_qwen3(tiny_asr: Path) -> None:
    with pytest.raises(ModelError, match=r"^tiny-qwen3-asr: int8 is for Whisper only"):
        load_model(str(tiny_asr), dtype="int8")


def _entries(name: str) -> list[str]:
    """What the models folder holds under ``name``, staging folders (``.name.…``) included."""
    from voxtune.engine.home import models_dir

    return sorted(p.name for p in models_dir().iterdir() if p.name.lstrip(".").startswith(name))


@pytest.mark.parametrize("damage", ["corrupt-weights", "missing-tokenizer", "corrupt-tokenizer"])
def test_a_failed_import_leaves_no_folder_and_keeps_an_earlier_one(
    tiny_asr: Path, tmp_path: Path, damage: str
) -> None:
    """Issue 19 item 9: a failed conversion left an empty (corrupt weights) or partial (corrupt
    tokenizer: the weights were written, then the processor failed) folder in the models
    folder; a missing tokenizer was an AttributeError traceback."""
    from voxtune.engine.models.registry import import_folder

    name = f"failed-import-{damage}"
    broken = tmp_path / "broken"
    native_to_original(tiny_asr, broken)
    expected = {
        "corrupt-weights": rf"^{broken / 'model.safetensors'}: unreadable weights",
        "missing-tokenizer": rf"^{broken}: no tokenizer \(tokenizer\.json, or vocab\.json",
        "corrupt-tokenizer": rf"^{broken}: unreadable tokenizer",
    }[damage]
    _damage(broken, damage)
    with pytest.raises(ModelError, match=expected):
        import_folder(broken, name=name)
    assert _entries(name) == []

    # A good import of that name survives a failed import again (its folder damaged since).
    good = tmp_path / name
    native_to_original(tiny_asr, good)
    info = import_folder(good, name=name)
    _damage(good, damage)
    with pytest.raises(ModelError):
        import_folder(good, name=name)
    assert _entries(name) == [name]
    assert tensors(info.location) == tensors(tiny_asr)
    assert resolve_model(name).location == info.location


def _damage(folder: Path, damage: str) -> None:
    if damage == "corrupt-weights":
        (folder / "model.safetensors").write_bytes(b"not safetensors")
    elif damage == "missing-tokenizer":
        for file in folder.iterdir():
            if file.name.startswith(("vocab", "merges", "tokenizer")):
                file.unlink()
    else:
        (folder / "tokenizer.json").write_text("{ not json", encoding="utf-8")
