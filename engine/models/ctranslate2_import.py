"""Import a CTranslate2 Whisper directory as a Hugging Face Whisper directory.

The result lives in ``models_dir()/<name>`` in the layout ``from_pretrained`` reads:
``model.safetensors``, ``config.json``, ``generation_config.json``, tokenizer files and
``preprocessor_config.json``, plus ``voxtune-model.json``. It is built in a temporary folder
beside the target and renamed into place, so a crash never leaves half a model behind.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError
from voxtune.engine.home import models_dir
from voxtune.engine.models.ct2_reader import read_ct2_model
from voxtune.engine.models.ct2_source import CT2Source
from voxtune.engine.models.info import ModelInfo
from voxtune.engine.models.manifest import (
    MANIFEST,
    WEIGHTS,
    Manifest,
    file_sha256,
    manifest_info,
)
from voxtune.engine.models.staging import finalise_files, install_folder
from voxtune.engine.models.whisper_configs import (
    generation_config,
    model_config,
    read_ct2_config,
)
from voxtune.engine.models.whisper_tokenizer_files import (
    MULTILINGUAL_VOCAB_SIZE,
    complete_tokenizer_json,
    read_vocabulary,
    token_ids,
    write_tokenizer_files,
)
from voxtune.engine.models.whisper_weights import whisper_state_dict

if TYPE_CHECKING:
    from transformers import WhisperConfig, WhisperFeatureExtractor

VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def import_ctranslate2(src: Path, name: str | None = None) -> ModelInfo:
    """Import the CTranslate2 Whisper folder ``src`` as ``name`` (default: the folder's name)."""
    src = Path(src).expanduser()
    source = CT2Source.directory(src)
    return import_source(source, name or src.resolve().name, kind="imported")


def import_source(source: CT2Source, name: str, kind: str) -> ModelInfo:
    """Convert ``source`` into ``models_dir()/name``; ``kind`` is recorded as ModelInfo.source."""
    if not VALID_NAME.match(name):
        raise ModelError(f"{name!r}: not a valid model name (letters, digits, '.', '_', '-')")
    state, shape = whisper_state_dict(read_ct2_model(source.weights), source.label)
    vocabulary = read_vocabulary(source.files)
    tokenizer_folder = _tokenizer_folder(source.files, vocabulary)
    tokenizer_json = complete_tokenizer_json(tokenizer_folder, vocabulary, shape.vocab_size)
    ids = token_ids(tokenizer_json, source.files)
    multilingual = shape.vocab_size >= MULTILINGUAL_VOCAB_SIZE
    languages = tuple(ids.language_ids) if multilingual else ("en",)
    ct2_config = read_ct2_config(source.files)

    config = model_config(shape, ids, ct2_config)
    _check_against_transformers(config, state, source.label)

    target = models_dir() / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.importing-", dir=models_dir()))
    try:
        _write_weights(staging / WEIGHTS, state)
        del state
        config.save_pretrained(staging)
        generation_config(shape, ids, ct2_config, multilingual).save_pretrained(staging)
        write_tokenizer_files(staging, tokenizer_json, ids)
        _feature_extractor(shape.num_mel_bins).save_pretrained(staging)
        manifest = Manifest(
            name=name,
            family="whisper",
            languages=languages,
            source=kind,
            sha256=file_sha256(staging / WEIGHTS),
            imported_from=str(source.files.resolve()),
            source_stamp=source.stamp(),
        )
        (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        finalise_files(staging)
        install_folder(staging, target)
    except OSError as exc:
        raise ModelError(
            f"{target}: cannot write the imported model ({exc.strerror or exc})"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest_info(target, manifest)


def _tokenizer_folder(files: Path, vocabulary: list[str] | None) -> Path:
    """Where tokenizer.json is: the model's folder, or a built-in with the same vocabulary.

    ``ct2-transformers-converter`` leaves tokenizer.json out unless asked; a fine-tune keeps
    its base model's vocabulary, so the built-in's BPE merges are exactly the right ones.
    """
    if (files / "tokenizer.json").is_file() or vocabulary is None:
        return files
    from voxtune.engine.models.builtin import BUILTIN_MODELS

    for builtin in BUILTIN_MODELS.values():
        try:
            candidate = builtin().files
        except ModelError:
            continue
        if read_vocabulary(candidate) == vocabulary:
            return candidate
    return files


def _check_against_transformers(config: WhisperConfig, state: dict, label: str) -> None:
    """Every tensor transformers expects, with its shape: nothing is left randomly initialised."""
    import torch
    from transformers import WhisperForConditionalGeneration

    with torch.device("meta"):
        expected = WhisperForConditionalGeneration(config).state_dict()
    expected.pop("proj_out.weight", None)  # tied to the token embeddings
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or wrong:
        detail = (
            (missing and f"missing {missing[0]}")
            or (unexpected and f"unexpected {unexpected[0]}")
            or f"shape of {wrong[0]}"
        )
        raise ModelError(f"{label}: does not match transformers' Whisper ({detail})")


def _write_weights(path: Path, state: dict) -> None:
    from safetensors.torch import save_file

    save_file(state, str(path), metadata={"format": "pt"})


def _feature_extractor(num_mel_bins: int) -> WhisperFeatureExtractor:
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=num_mel_bins)
