"""Tokenizer files for an imported Whisper: what ``WhisperProcessor.from_pretrained`` reads.

CTranslate2 directories carry a Hugging Face ``tokenizer.json`` that may lack the timestamp
tokens (``<|0.00|>`` … ``<|30.00|>``) and always lacks ``tokenizer_config.json``. The full
vocabulary (``vocabulary.txt`` or ``vocabulary.json``) lists every id, so the missing tokens
are added from it. Every special id is read from these files, never assumed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import ModelError

TIMESTAMP = re.compile(r"^<\|\d+\.\d\d\|>$")
LANGUAGE = re.compile(r"^<\|([a-z]{2,3}|haw|yue)\|>$")
# transformers' own rule (convert_openai_to_hf): English-only checkpoints have one token less.
MULTILINGUAL_VOCAB_SIZE = 51865


@dataclass(frozen=True)
class WhisperTokenIds:
    """The special ids generation needs, as this tokenizer numbers them."""

    end_of_text: int
    start_of_transcript: int
    translate: int
    transcribe: int
    start_of_prev: int
    no_timestamps: int
    language_ids: dict[str, int]  # "de" -> id of "<|de|>", in vocabulary order
    specials: tuple[str, ...]  # every special token, in id order


def read_vocabulary(src: Path) -> list[str] | None:
    """The full id → token list of a CTranslate2 directory, if it has one."""
    txt, js = src / "vocabulary.txt", src / "vocabulary.json"
    try:
        if js.is_file():
            tokens = json.loads(js.read_text(encoding="utf-8"))
            if not isinstance(tokens, list):
                raise ModelError(f"{js}: not a list of tokens")
            return [str(t) for t in tokens]
        if txt.is_file():
            lines = txt.read_text(encoding="utf-8").split("\n")
            return lines[:-1] if lines[-1] == "" else lines
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{js if js.is_file() else txt}: unreadable vocabulary ({exc})") from exc
    return None


def complete_tokenizer_json(src: Path, vocabulary: list[str] | None, vocab_size: int) -> dict:
    """``tokenizer.json`` with every token of the model's vocabulary registered."""
    path = src / "tokenizer.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        bpe_vocab: dict[str, int] = data["model"]["vocab"]
        added: list[dict] = data["added_tokens"]
    except FileNotFoundError as exc:
        raise ModelError(f"{src}: no tokenizer.json (a Hugging Face tokenizers file)") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: not a Hugging Face tokenizers file ({exc})") from exc
    known = {entry["id"] for entry in added} | set(bpe_vocab.values())
    if vocabulary is not None:
        for entry in added:
            if entry["id"] < len(vocabulary) and vocabulary[entry["id"]] != entry["content"]:
                raise ModelError(
                    f"{path}: does not match the model's vocabulary "
                    f"(id {entry['id']} is {entry['content']}, not {vocabulary[entry['id']]})"
                )
        for token_id, content in enumerate(vocabulary[:vocab_size]):
            if token_id not in known:
                added.append(_added_token(token_id, content))
    added.sort(key=lambda entry: entry["id"])
    missing = sorted(set(range(vocab_size)) - {e["id"] for e in added} - set(bpe_vocab.values()))
    if missing:
        raise ModelError(
            f"{path}: the tokenizer lacks {len(missing)} of the model's {vocab_size} ids "
            f"(first {missing[0]}) and no vocabulary file lists them"
        )
    return data


def _added_token(token_id: int, content: str) -> dict:
    # Timestamps are ordinary added tokens, as in transformers' Whisper tokenizers:
    # decode(..., decode_with_timestamps=True) finds them above the last *special* id.
    special = not TIMESTAMP.match(content)
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": not special,
        "special": special,
    }


def token_ids(tokenizer_json: dict, source: Path) -> WhisperTokenIds:
    ids = {entry["content"]: entry["id"] for entry in tokenizer_json["added_tokens"]}
    specials = tuple(e["content"] for e in tokenizer_json["added_tokens"] if e["special"])

    def need(token: str) -> int:
        if token not in ids:
            raise ModelError(f"{source}: the tokenizer has no {token} token; not a Whisper model")
        return ids[token]

    sot, translate = need("<|startoftranscript|>"), need("<|translate|>")
    languages = {
        match.group(1): token_id
        for content, token_id in sorted(ids.items(), key=lambda item: item[1])
        if sot < token_id < translate and (match := LANGUAGE.match(content))
    }
    return WhisperTokenIds(
        end_of_text=need("<|endoftext|>"),
        start_of_transcript=sot,
        translate=translate,
        transcribe=need("<|transcribe|>"),
        start_of_prev=need("<|startofprev|>"),
        no_timestamps=need("<|notimestamps|>"),
        language_ids=languages,
        specials=specials,
    )


def tokenizer_config(ids: WhisperTokenIds) -> dict:
    end = "<|endoftext|>"
    return {
        "tokenizer_class": "WhisperTokenizer",
        "processor_class": "WhisperProcessor",
        "bos_token": end,
        "eos_token": end,
        "unk_token": end,
        "pad_token": end,
        "add_prefix_space": False,
        # Keep decoded text exactly as the model wrote it (" ." stays " .").
        "clean_up_tokenization_spaces": False,
        "model_max_length": 1024,
        "errors": "replace",
        # In id order, so the last is <|notimestamps|>: transformers places the timestamp
        # tokens right after the last special id.
        "extra_special_tokens": [t for t in ids.specials if t != end],
    }


def write_tokenizer_files(directory: Path, tokenizer_json: dict, ids: WhisperTokenIds) -> None:
    """tokenizer.json, tokenizer_config.json, and vocab.json + merges.txt for BPE tooling."""
    (directory / "tokenizer.json").write_text(
        json.dumps(tokenizer_json, ensure_ascii=False), encoding="utf-8"
    )
    (directory / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config(ids), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    model = tokenizer_json["model"]
    (directory / "vocab.json").write_text(
        json.dumps(model["vocab"], ensure_ascii=False), encoding="utf-8"
    )
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    (directory / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(m + "\n" for m in merges), encoding="utf-8"
    )


def vocabulary_languages(vocabulary: list[str]) -> tuple[str, ...]:
    """Language codes a model with this vocabulary transcribes, without loading it."""
    if len(vocabulary) < MULTILINGUAL_VOCAB_SIZE:
        return ("en",)
    try:
        first, last = vocabulary.index("<|startoftranscript|>"), vocabulary.index("<|translate|>")
    except ValueError:
        return ()
    return tuple(m.group(1) for t in vocabulary[first + 1 : last] if (m := LANGUAGE.match(t)))
