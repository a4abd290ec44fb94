"""ONNX export and the onnx backend, on the embedded tiny.en and real FLEURS speech."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voxtune.app.cli import main
from voxtune.engine.errors import ModelError
from voxtune.engine.evaluation import word_error_rate
from voxtune.engine.models import ModelRequest, build_model
from voxtune.engine.transcribe import transcribe_file
from voxtune.engine.types import TranscriptionOptions

REPO = Path(__file__).resolve().parents[1]
# Greedy keeps the suite fast; the decoding code (beam included) is shared with torch, and
# test_transcribe covers beam search.
OPTIONS = TranscriptionOptions(beam_size=1, language="en")


@pytest.fixture(scope="module")
def float_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny.en exported with the default verification (the shipped manifest), strictly."""
    out = tmp_path_factory.mktemp("onnx") / "tiny-en-float32"
    command = ["export", "onnx", "whisper-tiny.en", "--out", str(out), "--strict"]
    assert main([*command, "--beam-size", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def int8_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "tiny-en-int8"
    command = ["export", "onnx", "whisper-tiny.en", "--out", str(out), "--quantize", "int8"]
    assert main([*command, "--no-eval"]) == 0
    return out


def _wer(model: str, backend: str, utterances) -> float:  # type: ignore[no-untyped-def]
    transcriber = build_model(ModelRequest(name=model, backend=backend)).offline_transcriber()
    hypotheses = [transcribe_file(u.path, transcriber, OPTIONS).text for u in utterances]
    return word_error_rate([u.reference for u in utterances], hypotheses)


def test_export_folder_is_complete_checked_and_reported(float_export: Path) -> None:
    import onnx

    metadata = json.loads((float_export / "voxtune-onnx.json").read_text())
    assert metadata["family"] == "whisper" and metadata["base"] == "whisper-tiny.en"
    assert metadata["quantisation"] == "float32" and metadata["opset"] >= 17
    assert metadata["voxtune_version"]
    for name in ("tokenizer.json", "generation_config.json", "processor_config.json"):
        assert (float_export / name).is_file(), name
    for graph in metadata["graphs"]:
        model = onnx.load(str(float_export / graph))
        onnx.checker.check_model(model)
        assert model.opset_import[0].version >= 17
    decoder = onnx.load(str(float_export / "decoder.onnx"), load_external_data=False)
    assert "alignment_scores" in [o.name for o in decoder.graph.output]
    report = json.loads((float_export / "export-report.json").read_text())
    assert report["wer_increase_points"] <= 1.0
    assert report["source"]["audio_seconds"] > 5 and report["export"]["rtf"] > 0
    assert report["files"]["decoder.onnx"] > 0


def test_both_exports_match_torch_on_fleurs(
    float_export: Path, int8_export: Path, english_dev
) -> None:  # type: ignore[no-untyped-def]
    torch_wer = _wer("whisper-tiny.en", "torch", english_dev)
    float_wer = _wer(str(float_export), "onnx", english_dev)
    int8_wer = _wer(str(int8_export), "onnx", english_dev)
    assert torch_wer < 0.2
    assert abs(float_wer - torch_wer) <= 0.005  # 0.5 point: the same words here
    assert abs(int8_wer - torch_wer) <= 0.01  # int8 per-channel weights: within a word


def test_onnx_transcript_has_the_same_words_times_and_confidences(
    float_export: Path, english_dev
) -> None:  # type: ignore[no-untyped-def]
    clip = english_dev[0].path
    ours = build_model(ModelRequest(name=str(float_export))).offline_transcriber()
    reference = build_model(ModelRequest(name="whisper-tiny.en")).offline_transcriber()
    onnx_words = transcribe_file(clip, ours, OPTIONS).words
    torch_words = transcribe_file(clip, reference, OPTIONS).words
    assert [w.text for w in onnx_words] == [w.text for w in torch_words]
    for a, b in zip(onnx_words, torch_words, strict=True):
        assert abs(a.start - b.start) <= 0.02 and abs(a.end - b.end) <= 0.02
        assert abs(a.confidence - b.confidence) <= 0.01


def test_cli_transcribes_an_export_with_backend_onnx(
    float_export: Path, english_dev, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    code = main([
        "transcribe", str(english_dev[1].path), "--model", str(float_export),
        "--backend", "onnx", "--language", "en", "-o", str(tmp_path), "-f", "txt", "-q",
    ])  # fmt: skip
    assert code == 0
    [text] = tmp_path.glob("*.txt")
    assert word_error_rate([english_dev[1].reference], [text.read_text()]) < 0.3


def test_models_import_of_an_export(float_export: Path) -> None:
    from voxtune.engine.models import resolve_model
    from voxtune.engine.models.registry import import_folder, list_models

    info = import_folder(float_export, "tiny-en-onnx")
    assert info.source == "onnx" and info.family == "whisper"
    assert resolve_model("tiny-en-onnx").location == info.location
    assert "tiny-en-onnx" in [i.name for i in list_models()]
    ready = build_model(ModelRequest(name="tiny-en-onnx", backend="onnx"))
    assert ready.loaded.model.__class__.__name__ == "OnnxRunner"


def test_partial_export_names_the_missing_file(float_export: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(float_export, broken)
    (broken / "decoder.onnx").unlink()
    with pytest.raises(ModelError, match=r"missing decoder\.onnx"):
        build_model(ModelRequest(name=str(broken), backend="onnx"))
    result = subprocess.run(
        [sys.executable, "-m", "voxtune.app", "transcribe", str(REPO / "assets" / "demo-en.ogg"),
         "--model", str(broken), "--backend", "onnx"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "decoder.onnx" in lines[0], result.stderr


def test_an_export_of_an_older_graph_format_asks_for_a_new_export(
    float_export: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(float_export, old)
    metadata = json.loads((old / "voxtune-onnx.json").read_text())
    del metadata["graph_format"]  # as Voxtune wrote it before per-layer caches
    (old / "voxtune-onnx.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelError, match=r"graph format 1, this one reads 2\).*export it again"):
        build_model(ModelRequest(name=str(old), backend="onnx"))


def test_bare_onnxruntime_greedy_decode(float_export: Path, english_dev) -> None:  # type: ignore[no-untyped-def]
    """The README's recipe, in a fresh process that imports nothing of Voxtune."""
    clip = english_dev[0]
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from pathlib import Path; from bare_onnx_decode import greedy_transcribe;"
        "print(greedy_transcribe(Path(sys.argv[2]), Path(sys.argv[3])));"
        "assert not [m for m in sys.modules if m.startswith('voxtune')]"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "tests"), str(float_export), str(clip.path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert word_error_rate([clip.reference], [result.stdout]) < 0.3
