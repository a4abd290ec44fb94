"""Finding and loading models: names, paths, Hub ids, damaged caches, and the errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from model_factory import build_tiny_whisper

from voxtune.engine.errors import ModelError
from voxtune.engine.home import models_dir
from voxtune.engine.models import (
    import_ctranslate2,
    list_models,
    load_model,
    pull_model,
    resolve_model,
)
from voxtune.engine.models.builtin import BUILTIN_MODELS
from voxtune.engine.models.manifest import file_sha256, read_manifest

TINY = "whisper-tiny.en"


@pytest.fixture(scope="module")
def tiny_ct2_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CTranslate2 folder of our own, to import, damage and delete."""
    folder = tmp_path_factory.mktemp("ct2") / "my-tiny"
    shutil.copytree(BUILTIN_MODELS[TINY]().files, folder)
    return folder


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_whisper(tmp_path_factory.mktemp("hf") / "tiny-random")


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache and no network, whatever machine runs the tests."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_unknown_name_lists_the_available_models() -> None:
    with pytest.raises(ModelError) as error:
        resolve_model("whisper-gigantic")
    message = str(error.value)
    assert message.startswith("unknown model 'whisper-gigantic' (available: ")
    assert "whisper-tiny.en" in message and "whisper-base" in message
    assert "\n" not in message


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("hello")
    with pytest.raises(ModelError, match=r"notes\.txt: not a directory \(a model is a folder\)"):
        resolve_model(str(stray))
    with pytest.raises(ModelError, match=r"missing: no such model directory"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(ModelError, match=r": not a model directory \(no model\.bin or config"):
        resolve_model(str(tmp_path))


def test_pull_offline_is_one_clear_line(offline_hub: Path) -> None:
    with pytest.raises(ModelError) as error:
        pull_model("openai/whisper-small")
    assert str(error.value) == (
        "cannot reach the Hugging Face Hub to fetch openai/whisper-small (offline?)"
    )
    with pytest.raises(ModelError, match=r"to fetch Qwen/Qwen3-ASR-0\.6B \(offline\?\)"):
        resolve_model("Qwen/Qwen3-ASR-0.6B")
    with pytest.raises(ModelError, match="'not a/hub id': not a Hugging Face Hub id"):
        pull_model("not a/hub id")


def test_hub_id_is_found_in_the_local_cache(offline_hub: Path, tiny_hf: Path) -> None:
    # The layout huggingface_hub itself writes: refs/main names a snapshot folder.
    repo = offline_hub / "models--voxtune-tests--tiny-random"
    snapshot = repo / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_hf, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    info = resolve_model("voxtune-tests/tiny-random")
    assert (info.name, info.source, info.family) == ("voxtune-tests/tiny-random", "hub", "whisper")
    assert info.location.resolve() == snapshot.resolve()
    assert info.languages == ("en",)
    assert load_model("voxtune-tests/tiny-random").model.config.d_model == 64


def test_ctranslate2_path_is_imported_once(tiny_ct2_copy: Path) -> None:
    info = resolve_model(str(tiny_ct2_copy))
    assert (info.name, info.source, info.languages) == ("my-tiny", "imported", ("en",))
    assert info.location == models_dir() / "my-tiny"
    stamp = (info.location / "model.safetensors").stat().st_mtime_ns
    again = resolve_model(str(tiny_ct2_copy))
    assert again == info
    assert (again.location / "model.safetensors").stat().st_mtime_ns == stamp
    assert resolve_model("my-tiny") == info
    assert "my-tiny" in [m.name for m in list_models()]


def test_damaged_builtin_cache_is_imported_again() -> None:
    info = resolve_model(TINY)
    weights = info.location / "model.safetensors"
    good = read_manifest(info.location).sha256  # type: ignore[union-attr]
    with open(weights, "r+b") as handle:
        handle.truncate(weights.stat().st_size // 3)
    repaired = resolve_model(TINY)
    assert file_sha256(repaired.location / "model.safetensors") == good


def test_damaged_import_without_its_source_is_a_clear_error(
    tiny_ct2_copy: Path, tmp_path: Path
) -> None:
    source = tmp_path / "short-lived"
    shutil.copytree(tiny_ct2_copy, source)
    info = import_ctranslate2(source, name="short-lived")
    shutil.rmtree(source)
    weights = info.location / "model.safetensors"
    with open(weights, "r+b") as handle:
        handle.seek(4096)
        handle.write(b"\0" * 64)
    with pytest.raises(ModelError, match=r"short-lived/model\.safetensors: corrupt \(checksum"):
        resolve_model("short-lived")


def test_damaged_import_with_its_source_is_imported_again(tiny_ct2_copy: Path) -> None:
    info = import_ctranslate2(tiny_ct2_copy, name="repairable")
    good = file_sha256(info.location / "model.safetensors")
    (info.location / "model.safetensors").write_bytes(b"not weights")
    assert file_sha256(resolve_model("repairable").location / "model.safetensors") == good


def test_local_hf_directory_loads_and_generates(tiny_hf: Path) -> None:
    info = resolve_model(str(tiny_hf))
    assert (info.name, info.family, info.source, info.languages) == (
        "tiny-random",
        "whisper",
        "local",
        ("en",),
    )
    loaded = load_model(str(tiny_hf))
    assert not loaded.model.training
    features = torch.zeros(1, 80, 3000)
    out = loaded.model.generate(features, max_new_tokens=4)
    assert out.shape[-1] >= 1


def test_multilingual_factory_model_knows_its_languages(tmp_path: Path) -> None:
    folder = build_tiny_whisper(tmp_path / "tiny-multi", base_model="whisper-base")
    info = resolve_model(str(folder))
    assert info.multilingual and len(info.languages) == 99 and "de" in info.languages


def test_local_directory_without_safetensors_is_refused(tiny_hf: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    shutil.copyfile(tiny_hf / "config.json", folder / "config.json")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04 pickle")
    with pytest.raises(ModelError, match=r"pickled: no \.safetensors weights"):
        resolve_model(str(folder))


def test_broken_safetensors_is_a_clear_load_error(tiny_hf: Path, tmp_path: Path) -> None:
    folder = tmp_path / "broken-weights"
    shutil.copytree(tiny_hf, folder)
    (folder / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(ModelError) as error:
        load_model(str(folder))
    message = str(error.value)
    assert message.startswith(f"{folder}: cannot load the model (") and "\n" not in message


def test_load_model_is_cached_per_device_and_dtype() -> None:
    first = load_model(TINY)
    assert load_model() is first  # the default model
    assert first.dtype == torch.float32 and first.device == "cpu"
    half = load_model(TINY, dtype="bfloat16")
    assert half is not first and next(half.model.parameters()).dtype == torch.bfloat16


def test_load_model_rejects_bad_options() -> None:
    with pytest.raises(ModelError, match="'float8': unsupported dtype"):
        load_model(TINY, dtype="float8")
    with pytest.raises(ModelError, match="'tpu': unsupported device"):
        load_model(TINY, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="device cuda requested but no CUDA GPU"):
            load_model(TINY, device="cuda")
    else:
        assert load_model(TINY, device="cuda").model.device.type == "cuda"


def test_list_models_shows_builtins_first() -> None:
    names = [info.name for info in list_models()]
    assert names[:2] == ["whisper-tiny.en", "whisper-base"]
    base = list_models()[1]
    assert base.family == "whisper" and len(base.languages) == 99


def test_listing_and_resolving_do_not_import_torch() -> None:
    # The UI process and `voxtune models list` must stay light.
    code = (
        "import sys\n"
        "from voxtune.engine.models import list_models, resolve_model\n"
        "list_models(); resolve_model('whisper-tiny.en')\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
