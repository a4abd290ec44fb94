"""Qwen3-ASR ONNX export and its onnx backend, on a tiny random model and real FLEURS speech.

Tolerances: float32 graphs and torch compute the same sums in another order, so every step's
logits agree to 1e-4 (measured: under 1e-5 on logits up to about 11) and greedy decoding picks
the same tokens. int8 weights change the logits by design: the test reports its agreement with
torch (tokens equal, largest logit difference) and asserts only that it decodes and stays close.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voxtune.app.cli import main
from voxtune.engine.errors import ModelError
from voxtune.engine.models import ModelRequest, build_model
from voxtune.engine.transcribe import transcribe_file
from voxtune.engine.types import TranscriptionOptions

LOGIT_TOLERANCE = 1e-4
NEW_TOKENS = 40


@pytest.fixture(scope="module")
def source_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The factory's tiny Qwen3-ASR with an untied random output matrix: its greedy answers
    then change with the audio and the tokens before (the tied one repeats a single word),
    and the export's separate embedding and output matrices are exercised."""
    import torch
    from qwen3_factory import build_tiny_qwen3_asr
    from transformers import Qwen3ASRForConditionalGeneration

    folder = build_tiny_qwen3_asr(tmp_path_factory.mktemp("qwen3-onnx") / "tiny-untied")
    model = Qwen3ASRForConditionalGeneration.from_pretrained(str(folder)).eval()
    model.config.tie_word_embeddings = False
    model.config.text_config.tie_word_embeddings = False
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        head = 0.5 * torch.randn(model.lm_head.weight.shape, generator=generator)
        head[model.lm_head.weight.abs().sum(1) == 0] = 0  # keep the factory's whole words
        model.lm_head.weight = torch.nn.Parameter(head)
    model.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def float_export(source_model: Path, tmp_path_factory: pytest.TempPathFactory, dev_set) -> Path:  # type: ignore[no-untyped-def]
    """Exported by the CLI, verified on one FLEURS clip (greedy: the suite stays fast)."""
    base = tmp_path_factory.mktemp("qwen3-onnx")
    clip = next(u for u in dev_set if u.language == "en")
    manifest = base / "manifest.tsv"
    manifest.write_text(f"path\tlanguage\treference\n{clip.path}\ten\t{clip.reference}\n")
    out = base / "float32"
    command = ["export", "onnx", str(source_model), "--out", str(out), "--eval", str(manifest)]
    assert main([*command, "--beam-size", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def snippets(dev_set) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    """Two real utterances of different lengths (the batch's prompts are then padded)."""
    from voxtune.engine.audio import decode_audio

    english = next(u for u in dev_set if u.language == "en")
    german = next(u for u in dev_set if u.language == "de")
    return [decode_audio(english.path)[: 16000 * 6], decode_audio(german.path)[: 16000 * 4]]


def _generations(source: Path, export: Path, clips: list[np.ndarray], beam: int):  # type: ignore[no-untyped-def]
    """What torch's ``generate`` and the export decode from the same processor batch."""
    from voxtune.engine.families.qwen3_asr.transcriber import Chunk

    reference = build_model(ModelRequest(name=str(source))).offline_transcriber()
    exported = build_model(ModelRequest(name=str(export))).offline_transcriber()
    chunks = [Chunk(audio, 0.0) for audio in clips]
    inputs = reference.inputs(chunks, TranscriptionOptions(beam_size=beam))
    return reference.generate(inputs, NEW_TOKENS, beam), exported.generate(inputs, NEW_TOKENS, beam)


def test_export_folder_holds_checked_graphs_tokenizer_and_metadata(float_export: Path) -> None:
    import onnx

    metadata = json.loads((float_export / "voxtune-onnx.json").read_text())
    assert metadata["family"] == "qwen3_asr" and metadata["quantisation"] == "float32"
    assert metadata["base"] == "tiny-untied" and metadata["voxtune_version"]
    assert metadata["graphs"] == ["audio_encoder.onnx", "decoder.onnx"]
    for name in ("tokenizer.json", "processor_config.json", "generation_config.json"):
        assert (float_export / name).is_file(), name
    for graph in metadata["graphs"]:
        onnx.checker.check_model(str(float_export / graph), full_check=True)
        assert onnx.load(str(float_export / graph)).opset_import[0].version >= 17
    decoder = onnx.load(str(float_export / "decoder.onnx"))
    inputs = [i.name for i in decoder.graph.input]
    outputs = [o.name for o in decoder.graph.output]
    assert "past_key_values.1.value" in inputs and "present.1.value" in outputs
    past = next(i for i in decoder.graph.input if i.name == "past_key_values.0.key")
    assert [d.dim_param for d in past.type.tensor_type.shape.dim] == ["batch", "", "past", ""]
    report = json.loads((float_export / "export-report.json").read_text())
    assert report["family"] == "qwen3_asr" and report["export"]["audio_seconds"] > 5
    # The same greedy tokens: the export's WER is the source's.
    assert report["wer_increase_points"] == pytest.approx(0.0, abs=1e-9)


def test_greedy_tokens_and_logits_match_torch(
    source_model: Path, float_export: Path, snippets
) -> None:  # type: ignore[no-untyped-def]
    torch_run, onnx_run = _generations(source_model, float_export, snippets, beam=1)
    assert onnx_run.sequences.tolist() == torch_run.sequences.tolist()
    answers = torch_run.sequences[:, torch_run.prompt_length :]
    assert answers[0].tolist() != answers[1].tolist()  # the audio decides the answer
    assert len(set(answers[0].tolist())) >= 3  # not one token repeated: the cache matters
    difference = (onnx_run.logits - torch_run.logits).abs().max().item()
    assert difference < LOGIT_TOLERANCE, difference
    assert (onnx_run.token_logprobs - torch_run.token_logprobs).abs().max().item() < 1e-4


def test_beam_search_matches_torch(source_model: Path, float_export: Path, snippets) -> None:  # type: ignore[no-untyped-def]
    torch_run, onnx_run = _generations(source_model, float_export, snippets, beam=3)
    for torch_row, onnx_row in zip(torch_run.sequences, onnx_run.sequences, strict=True):
        length = torch_run.prompt_length + NEW_TOKENS
        assert onnx_row[:length].tolist() == torch_row[:length].tolist()
    width = min(torch_run.token_logprobs.shape[1], onnx_run.token_logprobs.shape[1])
    difference = onnx_run.token_logprobs[:, :width] - torch_run.token_logprobs[:, :width]
    assert difference.abs().max().item() < 1e-4


def test_transcript_is_the_same_as_torch(source_model: Path, float_export: Path, dev_set) -> None:  # type: ignore[no-untyped-def]
    clip = next(u for u in dev_set if u.language == "fr").path
    options = TranscriptionOptions(beam_size=1)
    ours = transcribe_file(
        clip, build_model(ModelRequest(name=str(float_export))).offline_transcriber(), options
    )
    reference = transcribe_file(
        clip, build_model(ModelRequest(name=str(source_model))).offline_transcriber(), options
    )
    assert ours.text == reference.text and ours.text.strip()
    assert ours.language == reference.language
    for a, b in zip(ours.segments, reference.segments, strict=True):
        assert (a.start, a.end, a.language) == (b.start, b.end, b.language)
        assert a.avg_logprob == pytest.approx(b.avg_logprob, abs=1e-4)


def test_int8_export_decodes_and_its_agreement_is_reported(
    source_model: Path, float_export: Path, snippets, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    import onnx

    out = tmp_path / "int8"
    command = ["export", "onnx", str(source_model), "--out", str(out), "--quantize", "int8"]
    assert main([*command, "--no-eval"]) == 0
    decoder = onnx.load(str(out / "decoder.onnx"))
    assert "MatMulInteger" in {node.op_type for node in decoder.graph.node}
    assert json.loads((out / "voxtune-onnx.json").read_text())["quantisation"] == "int8"
    torch_run, int8_run = _generations(source_model, out, snippets, beam=1)
    start = torch_run.prompt_length
    same = (int8_run.sequences[:, start:] == torch_run.sequences[:, start:]).float().mean().item()
    # Logits compared where both decoders saw the same tokens: the prompt's (step 0).
    first = (int8_run.logits[:, 0] - torch_run.logits[:, 0]).abs().max().item()
    scale = torch_run.logits[:, 0].abs().max().item()
    with capsys.disabled():
        print(f"\nint8 against torch: {100 * same:.1f}% of greedy tokens equal; first step's "
              f"logits differ by up to {first:.4f} (largest logit {scale:.2f})")  # fmt: skip
    assert (int8_run.sequences[:, start] == torch_run.sequences[:, start]).all()
    assert first < 0.1 * scale
    assert same >= 0.5


def test_cli_transcribes_the_export_folder(float_export: Path, dev_set, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = next(u for u in dev_set if u.language == "es").path
    command = ["transcribe", str(clip), "--model", str(float_export), "--backend", "onnx"]
    assert main([*command, "--beam-size", "1", "-o", str(tmp_path), "-f", "txt", "-q"]) == 0
    [written] = tmp_path.glob("*.txt")
    ready = build_model(ModelRequest(name=str(float_export)))
    expected = transcribe_file(clip, ready.offline_transcriber(), TranscriptionOptions(beam_size=1))
    assert written.read_text().split() == expected.text.split() and expected.text.strip()


def test_int8_of_a_graph_with_external_data_keeps_one_data_file(
    float_export: Path, tmp_path: Path
) -> None:
    """Graphs over 2 GB (0.6B's decoder) keep their weights beside them; quantising one must
    leave only the int8 weights there (onnx appends to an existing data file)."""
    import onnx
    import onnxruntime as ort

    from voxtune.engine.export.onnx_files import external_data_files, quantise_int8

    folder = tmp_path / "external"
    shutil.copytree(float_export, folder)
    graph = folder / "decoder.onnx"
    onnx.save_model(
        onnx.load(str(graph)), str(graph), save_as_external_data=True,
        all_tensors_to_one_file=True, location="decoder.onnx.data", size_threshold=0,
    )  # fmt: skip
    float_bytes = (folder / "decoder.onnx.data").stat().st_size
    quantise_int8(folder, ["decoder.onnx"], per_channel=False)
    assert external_data_files(graph) == {"decoder.onnx.data"}
    assert not [p.name for p in folder.iterdir() if "float" in p.name]
    assert (folder / "decoder.onnx.data").stat().st_size < 0.6 * float_bytes
    onnx.checker.check_model(str(graph), full_check=True)
    ort.InferenceSession(str(graph))


def test_models_import_keeps_the_export_as_a_model(float_export: Path) -> None:
    from voxtune.engine.models.registry import import_folder, list_models

    info = import_folder(float_export, "tiny-qwen3-onnx")
    assert info.source == "onnx" and info.family == "qwen3_asr"
    assert "tiny-qwen3-onnx" in [i.name for i in list_models()]
    ready = build_model(ModelRequest(name="tiny-qwen3-onnx"))
    assert type(ready.offline_transcriber()).__name__ == "Qwen3OnnxTranscriber"


@pytest.mark.parametrize("missing", ["decoder.onnx", "tokenizer.json"])
def test_broken_export_gives_one_line_naming_the_file(
    float_export: Path, tmp_path: Path, dev_set, missing: str
) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken"
    shutil.copytree(float_export, broken)
    (broken / missing).unlink()
    with pytest.raises(ModelError, match=f"missing {missing}"):
        build_model(ModelRequest(name=str(broken), backend="onnx"))
    result = subprocess.run(
        [sys.executable, "-m", "voxtune.app", "transcribe", str(dev_set[0].path),
         "--model", str(broken), "--backend", "onnx"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and missing in lines[0], result.stderr


def test_live_dictation_refuses_an_export_in_one_line(float_export: Path) -> None:
    from voxtune.engine.types import TranscriptionOptions as Options

    ready = build_model(ModelRequest(name=str(float_export)))
    with pytest.raises(ModelError, match="live dictation"):
        ready.stream_decoder(Options())
