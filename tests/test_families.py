"""Model families as one table, one model builder, and the memory-bounded model cache.

The third family (``tests/third_family.py``) is added from the test suite only: through
``VOXTUNE_FAMILIES`` it reaches the CLI, the engine process ``voxtune batch`` spawns, and
``voxtune live``, none of which name it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
from third_family import NAME, TICK, make_ticks_folder

from voxtune.engine.errors import ModelError
from voxtune.engine.families.table import (
    FAMILIES_ENV,
    families,
    family_for_config,
    register_family,
    unregister_family,
)
from voxtune.engine.models import ModelRequest, build_model, load_model, resolve_model
from voxtune.engine.models.cache import ModelMemoryCache, weight_bytes
from voxtune.engine.models.loader import model_cache

TESTS = Path(__file__).resolve().parent
FAMILY_SPEC = "third_family:TICKS"


@pytest.fixture(scope="module")
def ticks_folder(tiny_whisper: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_ticks_folder(tiny_whisper, tmp_path_factory.mktemp("ticks") / "tiny-ticks")


def voxtune(*args: str) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "voxtune.app", *args],
        capture_output=True,
        text=True,
        env={**os.environ, FAMILIES_ENV: FAMILY_SPEC, "PYTHONPATH": pythonpath},
        timeout=600,
    )


def test_the_table_names_every_builtin_family_and_recognises_their_folders() -> None:
    table = families()
    assert list(table)[:3] == ["whisper", "qwen3_asr", "qwen3_forced_aligner"]
    assert family_for_config({"model_type": "whisper"}).name == "whisper"
    assert family_for_config({"model_type": "qwen3_asr"}).name == "qwen3_asr"
    assert family_for_config({"model_type": "wav2vec2"}) is None
    assert not table["qwen3_forced_aligner"].transcribes
    assert table["qwen3_asr"].takes_aligner and not table["whisper"].takes_aligner


def test_a_registered_family_claims_its_folders_and_builds(ticks_folder: Path) -> None:
    assert resolve_model(str(ticks_folder)).family == "whisper"  # unregistered: the marker is noise
    from third_family import TICKS

    register_family(TICKS)
    try:
        ready = build_model(ModelRequest(name=str(ticks_folder)))
        assert ready.info.family == NAME and ready.family is TICKS and ready.aligner is None
        assert type(ready.offline_transcriber()).__name__ == "TickTranscriber"
    finally:
        unregister_family(NAME)
    assert NAME not in families()


def test_unknown_backend_and_family_are_one_line_errors(tiny_whisper: Path) -> None:
    with pytest.raises(
        ModelError,
        match=r"^unknown backend 'tensorrt' \(choose from torch, onnx, llamacpp, whispercpp\)$",
    ):
        build_model(ModelRequest(name=str(tiny_whisper), backend="tensorrt"))
    with pytest.raises(ModelError, match=r"no-such-module:X: cannot load this model family"):
        os.environ[FAMILIES_ENV] = "no-such-module:X"
        try:
            families()
        finally:
            del os.environ[FAMILIES_ENV]


def test_the_third_family_runs_through_transcribe_batch_and_live(
    ticks_folder: Path, english_dev: list, tmp_path: Path
) -> None:
    speech = english_dev[0].path
    offline = voxtune(
        "transcribe", str(speech), "-m", str(ticks_folder), "-f", "json", "-o", str(tmp_path / "t")
    )
    assert offline.returncode == 0, offline.stderr
    document = json.loads((tmp_path / "t" / f"{Path(speech).stem}.json").read_text())
    words = [w["text"] for s in document["segments"] for w in s["words"]]
    assert words and set(words) == {TICK}

    batch = voxtune(
        "batch", str(speech), "-m", str(ticks_folder), "-f", "json", "-o", str(tmp_path / "b")
    )
    assert batch.returncode == 0, batch.stderr
    batched = json.loads((tmp_path / "b" / f"{Path(speech).stem}.json").read_text())
    assert [s["text"] for s in batched["segments"]] == [s["text"] for s in document["segments"]]

    live = voxtune("live", "--file", str(speech), "--speed", "0", "--json", "-m", str(ticks_folder))
    assert live.returncode == 0, live.stderr
    stopped = json.loads(live.stdout.splitlines()[-1])
    assert stopped["event"] == "stopped"
    assert stopped["text"] and set(stopped["text"].split()) == {TICK.strip()}


def test_the_budget_evicts_the_least_recently_used_and_a_hit_refreshes_it(
    tiny_whisper: Path,
) -> None:
    loaded = load_model(str(tiny_whisper), shared=False)
    size = weight_bytes(loaded)
    assert size > 0
    cache = ModelMemoryCache(budget_bytes=int(2.5 * size))
    cache.put("a", loaded)
    cache.put("b", loaded)
    assert cache.get("a") is loaded  # "a" is now the most recently used
    cache.put("c", loaded)
    assert cache.held() == ["a", "c"] and cache.get("b") is None
    assert cache.held_bytes == 2 * size
    cache.set_budget(size // 2)  # the newest stays, even alone over the budget
    assert cache.held() == ["c"]


def test_the_loader_lets_a_model_go_but_its_user_keeps_it(
    tiny_whisper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_cache.clear()
    first = load_model(str(tiny_whisper))
    monkeypatch.setattr(model_cache, "_budget", int(1.2 * weight_bytes(first)))
    alive = weakref.ref(first.model)
    assert load_model(str(tiny_whisper)) is first  # a hit
    second = load_model(str(tiny_whisper), dtype="bfloat16")  # half the bytes: over budget
    assert [key[2] for key in model_cache.held()] == ["bfloat16"]
    assert alive() is not None and first.model is alive()  # still held here, still usable
    assert load_model(str(tiny_whisper)) is not first  # the cache had let it go
    assert second is not None
    model_cache.clear()
