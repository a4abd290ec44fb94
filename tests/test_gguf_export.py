"""``voxtune export gguf`` for Qwen3-ASR and the llamacpp backend, checked in the real engine.

The tiny random Qwen3-ASR (its logits depend on the audio, through the encoder) and the
scripted one (untied output matrix; it writes a fixed sentence and stops) are exported and
run by llama.cpp through libmtmd (the ``llama-cpp-py-sync`` wheel): the same greedy tokens as
Voxtune's torch path on real speech, logits within a stated tolerance.

Tolerances (max |logit difference| over the first steps), from measurements on these models
(f32 about 5e-5, f16 about 1e-3, q8_0 about 0.02, logits of size 1 to 10): f32 1e-3, f16 1e-2,
q8_0 0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voxtune.engine.errors import ModelError
from voxtune.engine.export.gguf_export import GgufExportRequest, export_gguf
from voxtune.engine.models import ModelRequest, build_model

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / "assets" / "eval-en" / "fleurs-en-000.ogg"
TOLERANCE = {"f32": 1e-3, "f16": 1e-2, "q8_0": 0.1}
STEPS = 8  # greedy steps compared


def _export(model: Path, out: Path, quant: str) -> Path:
    export_gguf(GgufExportRequest(model=str(model), out=out, quant=quant, manifest=None))
    return out


@pytest.fixture(scope="module")
def scripted_asr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qwen3_factory import build_scripted_qwen3_asr

    return build_scripted_qwen3_asr(tmp_path_factory.mktemp("qwen3") / "scripted")


@pytest.fixture(scope="module")
def exports(tiny_asr: Path, scripted_asr: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("gguf")
    return {
        (name, quant): _export(model, root / f"{name}-{quant}", quant)
        for name, model in (("tiny", tiny_asr), ("scripted", scripted_asr))
        for quant in ("f32", "f16", "q8_0")
    }


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """Three seconds of real speech, less half a hop: whole 100-frame conv chunks for both
    transformers and llama.cpp, so neither pads (see llamacpp_transcriber)."""
    from voxtune.engine.audio import decode_audio

    return decode_audio(SPEECH)[: 3 * 16000 - 80]


def test_reader_reads_back_every_tensor_and_key(exports, tiny_asr: Path) -> None:  # type: ignore[no-untyped-def]
    from gguf import GGUFReader
    from safetensors.numpy import load_file

    folder = exports[("tiny", "f32")]
    metadata = json.loads((folder / "voxtune-gguf.json").read_text())
    for name in ("model.gguf", "mmproj.gguf"):
        reader = GGUFReader(folder / name)
        assert [t.name for t in reader.tensors] == metadata["tensors"][name]
        assert set(metadata["keys"][name]) <= set(reader.fields)
    text, mmproj = GGUFReader(folder / "model.gguf"), GGUFReader(folder / "mmproj.gguf")

    def value(reader, key):  # type: ignore[no-untyped-def]
        return reader.fields[key].contents()

    assert value(text, "general.architecture") == "qwen3"
    assert value(mmproj, "general.architecture") == "clip"
    assert value(mmproj, "clip.audio.projector_type") == "qwen3a"
    config = json.loads((tiny_asr / "config.json").read_text())
    assert value(text, "qwen3.block_count") == config["text_config"]["num_hidden_layers"]
    assert len(value(text, "tokenizer.ggml.tokens")) == config["text_config"]["vocab_size"]
    assert "<|im_start|>" in value(text, "tokenizer.chat_template")
    # f32 keeps the weights bit for bit (GGUF stores dimensions reversed: same bytes).
    weights = load_file(str(tiny_asr / "model.safetensors"))
    tensors = {t.name: t for t in text.tensors}
    embed = weights["model.language_model.embed_tokens.weight"]
    assert np.array_equal(tensors["token_embd.weight"].data.reshape(embed.shape), embed)
    projector = {t.name: t for t in mmproj.tensors}["mm.a.mlp.2.weight"]
    linear = weights["model.multi_modal_projector.linear_2.weight"]
    assert np.array_equal(projector.data.reshape(linear.shape), linear)
    assert "output.weight" not in tensors  # tied: llama.cpp reuses token_embd


def test_quantised_files_are_smaller_and_typed(exports) -> None:  # type: ignore[no-untyped-def]
    from gguf import GGMLQuantizationType, GGUFReader

    sizes = {q: (exports[("scripted", q)] / "model.gguf").stat().st_size for q in TOLERANCE}
    assert sizes["q8_0"] < sizes["f16"] < sizes["f32"]
    reader = GGUFReader(exports[("scripted", "q8_0")] / "model.gguf")
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert types["blk.0.attn_q.weight"] == GGMLQuantizationType.Q8_0
    assert types["output.weight"] == GGMLQuantizationType.Q8_0  # untied head written
    assert types["blk.0.attn_norm.weight"] == GGMLQuantizationType.F32


def _torch_greedy(model: Path, audio: np.ndarray, steps: int):  # type: ignore[no-untyped-def]
    from voxtune.engine.families.qwen3_asr.transcriber import Chunk, Qwen3Transcriber
    from voxtune.engine.types import TranscriptionOptions

    ready = build_model(ModelRequest(name=str(model)))
    transcriber = Qwen3Transcriber(ready.loaded)
    inputs = transcriber.inputs([Chunk(audio, 0.0)], TranscriptionOptions())
    generation = transcriber.generate(inputs, steps)
    ids = generation.sequences[0, generation.prompt_length :].tolist()
    tokenizer = ready.loaded.processor.tokenizer
    prompt = inputs["input_ids"][0].tolist()
    audio_tokens = prompt.count(tokenizer.convert_tokens_to_ids("<|audio_pad|>"))
    return prompt, ids, generation.logits[0].float().numpy(), audio_tokens, tokenizer


@pytest.mark.parametrize("model", ["tiny", "scripted"])
@pytest.mark.parametrize("quant", ["f32", "f16", "q8_0"])
def test_llamacpp_gives_torch_greedy_tokens(
    exports, tiny_asr: Path, scripted_asr: Path, speech: np.ndarray, model: str, quant: str
) -> None:  # type: ignore[no-untyped-def]
    source = {"tiny": tiny_asr, "scripted": scripted_asr}[model]
    prompt, torch_ids, torch_logits, audio_tokens, tokenizer = _torch_greedy(source, speech, STEPS)
    ready = build_model(ModelRequest(name=str(exports[(model, quant)]), backend="llamacpp"))
    runner = ready.loaded.model
    start = prompt.index(tokenizer.convert_tokens_to_ids("<|audio_start|>"))
    end = prompt.index(tokenizer.convert_tokens_to_ids("<|audio_end|>"))
    generation = runner.generate(
        prompt[:start], speech, prompt[end + 1 :], max_new_tokens=STEPS, keep_logits=True
    )
    # mtmd put the audio between the same markers, as many embeddings as transformers.
    assert generation.text_chunks == ((prompt[start],), (prompt[end],))
    assert generation.audio_tokens == audio_tokens == 39
    stop = set(runner.stop)
    expected = [t for t in torch_ids if t not in stop][: len(generation.ids)]
    assert generation.ids == expected and len(expected) >= 7
    steps = min(len(generation.logits), len(torch_logits))
    difference = float(np.abs(generation.logits[:steps] - torch_logits[:steps]).max())
    print(f"{model} {quant}: max |logit difference| over {steps} steps = {difference:.2e}")
    assert difference < TOLERANCE[quant]


def test_transcripts_match_torch_with_and_without_export_flag(
    exports, scripted_asr: Path, speech: np.ndarray
) -> None:  # type: ignore[no-untyped-def]
    from voxtune.engine.types import TranscriptionOptions

    options = TranscriptionOptions(beam_size=1, vad=False)
    torch_ready = build_model(ModelRequest(name=str(scripted_asr)))
    # The export folder alone chooses the llamacpp backend.
    gguf_ready = build_model(ModelRequest(name=str(exports[("scripted", "f16")])))
    assert gguf_ready.request.backend == "torch" and gguf_ready.loaded.info.source == "gguf"
    expected, _ = torch_ready.offline_transcriber().transcribe(speech, options)
    segments, info = gguf_ready.offline_transcriber().transcribe(speech, options)
    got, want = list(segments), list(expected)
    assert [s.text for s in got] == [s.text for s in want]
    assert got[0].text.strip() == "the quick brown fox jumps over lazy dog"
    assert info.language == "en" and got[0].words == ()  # no aligner: no word times
    assert abs(got[0].avg_logprob - want[0].avg_logprob) < 0.05


def test_aligner_times_the_words_llamacpp_wrote(
    exports, tiny_aligner: Path, speech: np.ndarray
) -> None:  # type: ignore[no-untyped-def]
    from voxtune.engine.types import TranscriptionOptions

    options = TranscriptionOptions(beam_size=1, vad=False, word_timestamps=True)
    request = ModelRequest(name=str(exports[("scripted", "q8_0")]), aligner=str(tiny_aligner))
    segments, _ = build_model(request).offline_transcriber().transcribe(speech, options)
    [segment] = list(segments)
    assert len(segment.words) == 8 and "".join(w.text for w in segment.words) == segment.text
    assert all(0.0 <= w.start <= w.end <= 3.0 for w in segment.words)
    assert all(0.0 < w.confidence <= 1.0 for w in segment.words)


def test_cli_exports_verifies_and_transcribes(scripted_asr: Path, tmp_path: Path) -> None:
    """The scripted model stops after its sentence: both engines decode a few tokens."""
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(
        f"path\tlanguage\treference\n{SPEECH}\ten\thowever due to the slow communication\n"
    )
    out = tmp_path / "export"
    result = subprocess.run(
        [sys.executable, "-m", "voxtune.app", "export", "gguf", str(scripted_asr),
         "--out", str(out), "--quant", "q8_0", "--eval", str(manifest)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "model.gguf" in result.stdout and "mmproj.gguf" in result.stdout
    report = json.loads((out / "export-report.json").read_text())
    assert report["engine"] == "llamacpp" and report["quantisation"] == "q8_0"
    assert report["export"]["audio_seconds"] > 5 and report["export"]["rtf"] > 0
    assert report["export"]["wer"] == report["source"]["wer"] > 0  # the same sentence
    assert report["files"]["model.gguf"] == (out / "model.gguf").stat().st_size
    assert "export (llamacpp q8_0)" in result.stdout
    transcript = subprocess.run(
        [sys.executable, "-m", "voxtune.app", "transcribe", str(SPEECH), "--model", str(out),
         "--backend", "llamacpp", "--language", "en", "--no-vad", "-o", str(tmp_path),
         "-f", "json", "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert transcript.returncode == 0, transcript.stderr
    [written] = tmp_path.glob("*.json")
    [segment] = json.loads(written.read_text())["segments"]
    assert segment["text"].strip() == "the quick brown fox jumps over lazy dog"


def _one_line_error(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "voxtune.app", *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_inputs_are_one_line(exports, tiny_asr: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    line = _one_line_error("export", "gguf", str(tiny_asr), "--out", str(tmp_path / "a"),
                           "--quant", "q4_k")  # fmt: skip
    assert "q4_k" in line and "q8_0" in line
    assert not (tmp_path / "a").exists()
    with pytest.raises(ModelError, match="Whisper exports to onnx or ggml, not gguf"):
        _export(Path("whisper-tiny.en"), tmp_path / "w", "f16")
    assert not (tmp_path / "w").exists()
    with pytest.raises(ModelError, match="not a GGUF export"):
        build_model(ModelRequest(name=str(tiny_asr), backend="llamacpp"))
    broken = tmp_path / "broken"
    shutil.copytree(exports[("tiny", "f16")], broken)
    data = (broken / "model.gguf").read_bytes()
    (broken / "model.gguf").write_bytes(data[: len(data) // 2])
    line = _one_line_error("transcribe", str(SPEECH), "--model", str(broken))
    assert "model.gguf" in line and "llama.cpp cannot load it" in line
    (broken / "mmproj.gguf").unlink()
    with pytest.raises(ModelError, match=r"missing mmproj\.gguf"):
        build_model(ModelRequest(name=str(broken)))


def test_elf_patch_touches_only_c23_imports() -> None:
    """The wheel's libraries patched for glibc < 2.38: every import that needed 2.38 now
    names its C99 function without a version; a second pass finds nothing left to do."""
    import llama_cpp_py_sync

    from voxtune.engine.backends.llamacpp_native import patch_c23_imports

    library = Path(llama_cpp_py_sync.__file__).parent / "libllama.so"
    data = bytearray(library.read_bytes())
    changed = patch_c23_imports(data, library.name)
    assert changed in (0, 4)  # 0: a wheel built for older glibc needs no patch
    assert len(data) == library.stat().st_size
    if changed:
        assert data != library.read_bytes()
        assert patch_c23_imports(data, library.name) == 0


def test_pre_tokenizer_names() -> None:
    """Qwen's own tokenizer (its split regex, then byte-level) is llama.cpp's ``qwen2``; the
    tests' byte-level BPE is ``gpt-2``; anything else is refused, never guessed."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from voxtune.engine.families.qwen3_asr.gguf_writer import _QWEN2_SPLIT, _pre_tokenizer

    def named(pre) -> str:  # type: ignore[no-untyped-def]
        core = Tokenizer(models.BPE())
        core.pre_tokenizer = pre
        return _pre_tokenizer(PreTrainedTokenizerFast(tokenizer_object=core))

    qwen = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])  # fmt: skip
    assert named(qwen) == "qwen2"
    assert named(pre_tokenizers.ByteLevel(add_prefix_space=False)) == "gpt-2"
    with pytest.raises(ModelError, match="pre-tokenizer"):
        named(pre_tokenizers.Whitespace())
