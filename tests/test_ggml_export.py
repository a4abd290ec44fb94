"""whisper.cpp export (``voxtune export ggml``) and the whispercpp backend, on the embedded
tiny.en and real FLEURS speech: files whisper.cpp (pywhispercpp) really runs."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voxtune.app.cli import main
from voxtune.engine.errors import ModelError
from voxtune.engine.evaluation import word_error_rate
from voxtune.engine.export.ggml_export import GgmlExportRequest, export_ggml
from voxtune.engine.export.ggml_files import F16, F32, Q8_0, read_ggml, read_tensor
from voxtune.engine.models import ModelRequest, build_model
from voxtune.engine.transcribe import transcribe_file
from voxtune.engine.types import Transcript, TranscriptionOptions

REPO = Path(__file__).resolve().parents[1]
# The WER comparison decodes as users do, with beam 5: greedy decoding of q8_0 weights
# measured 1.9 points behind torch on these five files (two words of one utterance), beam 5
# one word (0.96 point). The export's verification and the command-line checks decode greedily.
OPTIONS = TranscriptionOptions(beam_size=5, language="en")


@pytest.fixture(scope="module")
def f16_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny.en at f16 through the CLI, verified on the shipped manifest, strictly."""
    out = tmp_path_factory.mktemp("ggml") / "ggml-tiny.en-f16.bin"
    command = ["export", "ggml", "whisper-tiny.en", "--out", str(out), "--strict"]
    assert main([*command, "--beam-size", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def q8_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ggml") / "ggml-tiny.en-q8_0.bin"
    export_ggml(GgmlExportRequest("whisper-tiny.en", out, quantisation="q8_0", manifest=None))
    return out


def _transcripts(model: str, backend: str, utterances) -> list[Transcript]:  # type: ignore[no-untyped-def]
    transcriber = build_model(ModelRequest(name=model, backend=backend)).offline_transcriber()
    return [transcribe_file(u.path, transcriber, OPTIONS) for u in utterances]


@pytest.fixture(scope="module")
def torch_transcripts(english_dev) -> list[Transcript]:  # type: ignore[no-untyped-def]
    return _transcripts("whisper-tiny.en", "torch", english_dev)


def test_file_reads_back_with_every_tensor_whisper_cpp_loads(
    f16_export: Path, q8_export: Path
) -> None:
    from voxtune.engine.models import load_model

    loaded = load_model("whisper-tiny.en")
    config = loaded.model.config
    f16, q8 = read_ggml(f16_export), read_ggml(q8_export)
    for file, ftype in ((f16, 1), (q8, 2007)):
        hparams = file.hparams
        assert (hparams.n_vocab, hparams.n_audio_ctx, hparams.n_audio_state) == (51864, 1500, 384)
        assert (hparams.n_text_ctx, hparams.n_text_head) == (config.max_target_positions, 6)
        assert (hparams.n_audio_layer, hparams.n_text_layer, hparams.n_mels) == (4, 4, 80)
        assert hparams.ftype == ftype and hparams.languages == ("en",)
        # 7 encoder + 4 decoder tensors outside the blocks, 15 per encoder block, 24 per decoder
        assert len(file.tensors) == 11 + 15 * 4 + 24 * 4 == hparams.tensor_count
        assert len({t.name for t in file.tensors}) == len(file.tensors)
        # The ordinary tokens as bytes; whisper.cpp names <|endoftext|> and the rest itself.
        assert len(file.vocabulary) == 50256 and file.vocabulary[220] == b" "
        filters = np.asarray(loaded.processor.feature_extractor.mel_filters).T
        np.testing.assert_allclose(file.mel_filters, filters, rtol=1e-6)
    types = {t.name: t.type for t in q8.tensors}
    assert types["encoder.conv1.weight"] == F16 and types["encoder.positional_embedding"] == F32
    assert types["decoder.token_embedding.weight"] == Q8_0 and types["encoder.ln_post.bias"] == F32
    assert {t.type for t in f16.tensors} == {F16, F32}
    assert q8.size < 0.6 * f16.size  # q8_0: 34 bytes per 32 weights, f16: 64
    # The quantised blocks expand back to the weights (gguf's reference dequantiser).
    weight = loaded.model.model.decoder.layers[1].fc1.weight.detach().numpy()
    name = "decoder.blocks.1.mlp.0.weight"
    np.testing.assert_allclose(read_tensor(f16, name), weight, atol=2e-3)
    error = np.abs(read_tensor(q8, name) - weight).max()
    assert 0 < error < np.abs(weight).max() / 100


def test_export_report_beside_the_file(f16_export: Path) -> None:
    report = json.loads(f16_export.with_name(f16_export.name + ".export-report.json").read_text())
    assert report["engine"] == "whispercpp" and report["quantisation"] == "f16"
    assert report["wer_increase_points"] <= 1.0
    assert report["source"]["audio_seconds"] > 5 and report["export"]["rtf"] > 0
    assert report["files"] == {f16_export.name: f16_export.stat().st_size}
    assert report["export_bytes"] < report["source_bytes"]


def test_whisper_cpp_matches_torch_on_fleurs(
    f16_export: Path, q8_export: Path, english_dev, torch_transcripts
) -> None:  # type: ignore[no-untyped-def]
    references = [u.reference for u in english_dev]
    torch_wer = word_error_rate(references, [t.text for t in torch_transcripts])
    f16 = _transcripts(str(f16_export), "whispercpp", english_dev)
    q8 = _transcripts(str(q8_export), "whispercpp", english_dev)
    f16_wer = word_error_rate(references, [t.text for t in f16])
    q8_wer = word_error_rate(references, [t.text for t in q8])
    print(f"WER torch {torch_wer:.4f}  whisper.cpp f16 {f16_wer:.4f}  q8_0 {q8_wer:.4f}")
    assert torch_wer < 0.2
    assert abs(f16_wer - torch_wer) <= 0.01
    assert abs(q8_wer - torch_wer) <= 0.01
    # Words carry times and confidences; where both engines wrote the same words, whisper.cpp's
    # DTW times are those of the torch path's DTW.
    offsets = []
    for ours, theirs in zip(f16, torch_transcripts, strict=True):
        words = ours.words
        assert words and all(0 <= w.confidence <= 1 for w in words)
        assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(words))
        assert all(0 <= w.start <= w.end <= ours.duration for w in words)
        assert "".join(w.text for w in words).strip() == ours.text
        if [w.text for w in words] == [w.text for w in theirs.words]:
            offsets += [abs(a.start - b.start) for a, b in zip(words, theirs.words, strict=True)]
    assert len(offsets) >= 20
    assert float(np.median(offsets)) < 0.1


def test_cli_chooses_whispercpp_for_a_ggml_file(
    q8_export: Path, english_dev, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    code = main([
        "transcribe", str(english_dev[1].path), "--model", str(q8_export),
        "--language", "en", "-o", str(tmp_path), "-f", "json", "-q", "--beam-size", "2",
    ])  # fmt: skip
    assert code == 0
    [output] = tmp_path.glob("*.json")
    data = json.loads(output.read_text())
    text = " ".join(s["text"] for s in data["segments"])
    assert word_error_rate([english_dev[1].reference], [text]) < 0.3
    assert data["segments"][0]["words"][0]["confidence"] > 0


def test_a_merged_adapter_is_in_the_file(tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from voxtune.engine.models import load_model

    base = load_model("whisper-tiny.en", shared=False).model
    tuned = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"]))
    torch.manual_seed(0)
    for name, parameter in tuned.named_parameters():
        if "lora_B" in name:  # peft starts B at zero (a no-op adapter); make it change things
            parameter.data.normal_(0, 0.05)
    tuned.save_pretrained(str(tmp_path / "adapter"))
    expected = tuned.merge_and_unload().model.decoder.layers[0].self_attn.q_proj.weight
    out = tmp_path / "tuned.bin"
    request = GgmlExportRequest(None, out, adapter=tmp_path / "adapter", quantisation="f32",
                                manifest=None)  # fmt: skip
    export_ggml(request)
    written = read_tensor(read_ggml(out), "decoder.blocks.0.attn.query.weight")
    original = load_model("whisper-tiny.en").model.model.decoder.layers[0].self_attn.q_proj
    assert np.abs(written - original.weight.detach().numpy()).max() > 1e-3
    np.testing.assert_allclose(written, expected.detach().numpy(), atol=1e-6)


def _one_line_error(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "voxtune.app", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_ggml_files_are_one_line(f16_export: Path, tmp_path: Path) -> None:
    audio = str(REPO / "assets" / "demo-en.ogg")
    missing = tmp_path / "missing.bin"
    assert str(missing) in _one_line_error("transcribe", audio, "--model", str(missing))
    cut = tmp_path / "cut.bin"
    cut.write_bytes(f16_export.read_bytes()[:5_000_000])
    line = _one_line_error("transcribe", audio, "--model", str(cut))
    assert str(cut) in line and "truncated whisper.cpp model" in line
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelError, match=r"garbage\.bin: not a whisper\.cpp ggml model"):
        build_model(ModelRequest(name=str(garbage)))
    short = tmp_path / "short.bin"  # whole tensors, but not all of them
    data = f16_export.read_bytes()
    last = read_ggml(f16_export).tensors[-1]
    header = 12 + 4 * len(last.shape) + len(last.name)
    short.write_bytes(data[: last.offset - header])
    with pytest.raises(ModelError, match=r"incomplete whisper\.cpp model \(166 of 167"):
        build_model(ModelRequest(name=str(short)))


def test_whispercpp_backend_refuses_a_model_that_is_not_a_ggml_file() -> None:
    with pytest.raises(ModelError, match=r"not a whisper\.cpp model file"):
        build_model(ModelRequest(name="whisper-tiny.en", backend="whispercpp"))


def test_export_refuses_a_folder_and_a_foreign_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="a folder"):
        export_ggml(GgmlExportRequest("whisper-tiny.en", tmp_path, manifest=None))
    other = tmp_path / "notes.txt"
    other.write_text("mine")
    with pytest.raises(ModelError, match="not a ggml model"):
        export_ggml(GgmlExportRequest("whisper-tiny.en", other, manifest=None))
    assert other.read_text() == "mine"
