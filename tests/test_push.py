"""``voxtune push``: a real tune and a real ONNX export of it, uploaded by the real command (a
subprocess) to a Hub on 127.0.0.1 (tests/hub_server.py) that keeps what it was sent.

The tune is the embedded tiny.en, LoRA for two steps on espeak-ng speech, checkpointed; the
export (int8) applies its adapter and re-transcribes one of those clips. Both run once for
the module.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from hub_server import FakeHub
from tune_factory import VOXTUNE, jargon_sentences, speak, voxtune, write_folder_dataset

from voxtune.app.cli import main

TOKEN = "hf_VoxtuneTestTokenThatMustNeverBeShown42"
TOKEN_ENV = "VOXTUNE_TEST_HF_TOKEN"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("push")
    spoken = speak(jargon_sentences(6, seed=5), root / "wav", seed=5)
    data = write_folder_dataset(spoken, root / "clients" / "acme-calls")
    out = root / "run"
    voxtune(
        "finetune", "--base", "whisper-tiny.en", "--data", str(data), "--out", str(out),
        "--batch-size", "4", "--rank", "4", "--alpha", "8", "--seed", "1", "--max-steps", "2",
        "--validation-fraction", "0.34", "--checkpoint-every", "1",
    )  # fmt: skip
    clip = spoken[0]
    manifest = root / "one-clip.tsv"
    manifest.write_text(f"path\treference\n{clip.audio}\t{clip.text}\n", encoding="utf-8")
    voxtune(
        "export", "onnx", "whisper-tiny.en", "--adapter", str(out / "adapter"),
        "--out", str(out / "onnx-int8"), "--quantize", "int8",
        "--eval", str(manifest), "--beam-size", "1",
    )  # fmt: skip
    return out


def _push(*args: str, endpoint: str, home: Path, token: str | None = TOKEN, **env: str):  # type: ignore[no-untyped-def]
    """``voxtune push`` in a child with its own Hugging Face home (no saved login)."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("HF_") and k != TOKEN_ENV
    }
    environment.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(home / "hf"),
        HF_HUB_DISABLE_XET="1",  # LFS objects to this server, not to Xet storage
        VOXTUNE_HOME=str(home / "voxtune"),
        **({TOKEN_ENV: token} if token is not None else {}),
        **env,
    )
    return subprocess.run(
        [str(VOXTUNE), "push", *args], capture_output=True, text=True, timeout=300, env=environment
    )


def _files_containing(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_push_uploads_the_tune_its_export_and_a_card_with_their_figures(
    run_folder: Path, tmp_path: Path
) -> None:
    from huggingface_hub import ModelCard

    assert (run_folder / "checkpoints").is_dir(), "the tune left checkpoints to keep back"
    with FakeHub(TOKEN) as hub:
        done = _push(
            str(run_folder), "someone/jargon-tiny", "--private", "--token-env", TOKEN_ENV,
            endpoint=hub.endpoint, home=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        again = _push(
            str(run_folder), "someone/jargon-tiny", "--token-env", TOKEN_ENV,
            endpoint=hub.endpoint, home=tmp_path,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr[-2000:]
    record = hub.record
    assert record.unexpected == []
    repo = record.repos["someone/jargon-tiny"]
    assert repo.visibility == "private"
    assert len(repo.commits) == 2, "the second push is a new commit to the same repository"
    assert f"Bearer {TOKEN}" in record.authorizations

    # Every file but training state and peft's stub card; weights byte for byte, through LFS.
    expected = {
        p.relative_to(run_folder).as_posix()
        for p in run_folder.rglob("*")
        if p.is_file() and "checkpoints" not in p.parts and p.name != "README.md"
    }
    assert set(repo.files) == expected | {"README.md"}
    assert not any(name.endswith(".pt") for name in repo.files)
    for name in ("adapter/adapter_model.safetensors", "onnx-int8/decoder.onnx"):
        local = (run_folder / name).read_bytes()
        assert hashlib.sha256(repo.files[name]).digest() == hashlib.sha256(local).digest()
        assert ("someone/jargon-tiny", name) in record.lfs_files

    # Records keep their values but not the machine's paths.
    root = str(run_folder.parent).encode()
    for name, content in repo.files.items():
        if name.endswith(".json"):
            assert root not in content, f"{name} names a local path"
    summary = json.loads((run_folder / "tune-summary.json").read_text())
    published = json.loads(repo.files["tune-summary.json"])
    assert published["config"]["data"] == "acme-calls"
    assert published["wer_after"] == summary["wer_after"]
    adapter_config = json.loads(repo.files["adapter/adapter_config.json"])
    assert adapter_config["base_model_name_or_path"] == "openai/whisper-tiny.en"
    assert json.loads(repo.files["adapter/voxtune-tune.json"])["base"] == "whisper-tiny.en"
    metadata = json.loads(repo.files["onnx-int8/voxtune-onnx.json"])
    assert metadata["base"] == "whisper-tiny.en+adapter" and metadata["adapter"] == "adapter"

    card = ModelCard(repo.files["README.md"].decode())
    report = json.loads((run_folder / "onnx-int8" / "export-report.json").read_text())
    assert card.data.pipeline_tag == "automatic-speech-recognition"
    assert card.data.model_name == "jargon-tiny"
    assert card.data.library_name == "peft"
    assert {"voxtune", "whisper", "onnx", "lora"} <= set(card.data.tags)
    assert card.data.base_model == "openai/whisper-tiny.en"
    assert card.data.license == "mit" and card.data.language == ["en"]
    results = {r.metric_name: r for r in card.data.eval_results}
    assert results["WER (%)"].metric_value == round(100 * summary["wer_after"], 2)
    assert results["WER (%)"].dataset_split == "validation"
    exported = results["WER (%), onnx int8"]
    assert exported.metric_value == round(100 * report["export"]["wer"], 2)
    assert exported.dataset_name == "one-clip.tsv" and exported.metric_type == "wer"
    text = card.text
    assert f"| before tuning (the base) | {100 * summary['wer_before']:.2f} |" in text
    assert f"| after tuning | {100 * summary['wer_after']:.2f} |" in text
    assert f"{summary['data']['train_examples']} training" in text
    rtf = report["export"]["wall_seconds"] / report["export"]["audio_seconds"]
    assert (
        f"| `onnx-int8/` | onnx | int8 | {report['export_bytes'] / 1e6:.1f} | "
        f"{100 * report['export']['wer']:.2f} | {100 * report['source']['wer']:.2f} | "
        f"{rtf:.3f} |"
    ) in text
    assert "voxtune transcribe talk.wav --model jargon-tiny/onnx-int8" in text
    assert "--model whisper-tiny.en --adapter jargon-tiny/adapter" in text
    assert "hf download someone/jargon-tiny" in text
    assert str(run_folder.parent) not in text

    # The token: sent, never shown or written down.
    for output in (done.stdout, done.stderr, again.stdout, again.stderr):
        assert TOKEN not in output
    assert "pushed" in done.stdout and "someone/jargon-tiny" in done.stdout
    for folder in (tmp_path, run_folder):
        assert _files_containing(folder, TOKEN.encode()) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr[-2000:]
    assert TOKEN not in done.stderr + done.stdout
    return lines[0]


def test_unreachable_hub_offline_mode_and_a_refused_token_are_one_line(
    run_folder: Path, tmp_path: Path
) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    args = (str(run_folder), "someone/jargon-tiny", "--token-env", TOKEN_ENV)
    line = _error_line(_push(*args, endpoint=endpoint, home=tmp_path))
    assert line.startswith(f"voxtune: error: cannot reach the Hugging Face Hub at {endpoint}")

    line = _error_line(_push(*args, endpoint=endpoint, home=tmp_path, HF_HUB_OFFLINE="1"))
    assert line == "voxtune: error: HF_HUB_OFFLINE is set: pushing needs the network"

    # The default token source this time: $HF_TOKEN, through huggingface_hub's get_token.
    with FakeHub("hf_AnotherToken") as hub:
        default = (str(run_folder), "someone/jargon-tiny")
        line = _error_line(_push(*default, endpoint=hub.endpoint, home=tmp_path, HF_TOKEN=TOKEN))
    assert f"Bearer {TOKEN}" in hub.record.authorizations
    assert line.endswith("someone/jargon-tiny: the Hub refused the token (401 Unauthorized)")
    assert hub.record.repos == {}


def test_no_token_is_one_line_and_nothing_is_sent(run_folder: Path, tmp_path: Path) -> None:
    with FakeHub(TOKEN) as hub:
        missing = _push(
            str(run_folder), "someone/jargon-tiny", endpoint=hub.endpoint, home=tmp_path,
            token=None,
        )  # fmt: skip
        named = _push(
            str(run_folder), "someone/jargon-tiny", "--token-env", "NO_SUCH_VARIABLE",
            endpoint=hub.endpoint, home=tmp_path,
        )  # fmt: skip
    assert _error_line(missing).startswith("voxtune: error: no Hugging Face token: set $HF_TOKEN")
    assert _error_line(named) == (
        "voxtune: error: no Hugging Face token: $NO_SUCH_VARIABLE is not set"
    )
    assert hub.record.routes == []


def test_a_folder_that_is_not_a_tune_or_an_export_is_one_line(
    run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["push", str(empty), "someone/x", "--dry-run"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"voxtune: error: {empty}: not a tune or an export folder (no tune-summary.json, "
        "export-report.json, adapter_config.json or model weights)"
    )
    broken = tmp_path / "broken"
    (broken / "onnx").mkdir(parents=True)
    (broken / "onnx" / "export-report.json").write_text("{not json", encoding="utf-8")
    assert main(["push", str(broken), "someone/x", "--dry-run"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"voxtune: error: {broken / 'onnx' / 'export-report.json'}: unreadable")
    assert len(err.splitlines()) == 1
    assert main(["push", str(run_folder), "not a repo id", "--dry-run"]) == 1
    assert "not a Hugging Face Hub id" in capsys.readouterr().err


def test_dry_run_prints_the_card_and_the_files_without_a_token(
    run_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["push", str(run_folder), "someone/jargon-tiny", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "model-index:" in out and "  tune-summary.json (local paths removed)" in out
    assert "checkpoints/" not in out


def test_base_models_are_named_by_their_hub_ids_with_their_licences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxtune.engine.publish.card import hub_id_of, licence_of

    monkeypatch.chdir(tmp_path)
    (tmp_path / "someone" / "local-model").mkdir(parents=True)

    assert hub_id_of("whisper-tiny.en") == "openai/whisper-tiny.en"
    assert hub_id_of("qwen3-asr-0.6b") == "Qwen/Qwen3-ASR-0.6B"
    assert hub_id_of("openai/whisper-small") == "openai/whisper-small"
    assert hub_id_of("someone/local-model") is None, "a folder here, not a Hub id"
    assert hub_id_of(str(tmp_path)) is None
    assert licence_of("openai/whisper-tiny.en") == "mit"
    assert licence_of("Qwen/Qwen3-ASR-0.6B") == "apache-2.0"
    assert licence_of("someone/else") is None
