"""Qwen3-ASR folders in two layouts: the original ``qwen-asr`` package's and transformers'.

The original (``Qwen/Qwen3-ASR-1.7B`` on the Hub) nests the model under ``thinker_config`` and
names weights ``thinker.…``; transformers' native class wants a flat config and
``model.…`` names. Conversion renames keys and copies every tensor byte for byte (never
through a model object, so nothing is re-cast or re-initialised): converting there and back
gives the same tensors and the same bytes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from voxtune.engine.atomic import write_text
from voxtune.engine.errors import ModelError

QWEN3_ASR = "qwen3_asr"
FORCED_ALIGNER = "qwen3_forced_aligner"
QWEN3_FAMILIES = (QWEN3_ASR, FORCED_ALIGNER)
ASR_CLASS = "Qwen3ASRForConditionalGeneration"
ALIGNER_CLASS = "Qwen3ASRForTokenClassification"
# Files copied unchanged between layouts (the tokenizer is the same in both).
TOKENIZER_FILES = (
    "vocab.json",
    "merges.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)
# Original names → native names, applied in order (as transformers' conversion script does).
_ASR_KEYS = (
    ("thinker.model.", "model.language_model."),
    ("thinker.lm_head.", "lm_head."),
    ("thinker.audio_tower.proj1.", "model.multi_modal_projector.linear_1."),
    ("thinker.audio_tower.proj2.", "model.multi_modal_projector.linear_2."),
    ("thinker.", "model."),
)
_ALIGNER_KEYS = tuple(
    (old, "score." if old == "thinker.lm_head." else new) for old, new in _ASR_KEYS
)
# Encoder positions: the original declares Whisper's 1500; chunks only ever use 13 (100 mel
# frames after three stride-2 convolutions), which is what the native config says.
ORIGINAL_SOURCE_POSITIONS = 1500
NATIVE_POSITIONS = 13

_AUDIO_TOKENS = "'<|audio_start|><|audio_pad|><|audio_end|>'"
# One audio placeholder per audio item; the processor expands it to one per encoder frame.
_ASR_TEMPLATE = (
    "{%- set ns = namespace(system='', audio='') -%}"
    "{%- for m in messages -%}{%- if m.content is string -%}"
    "{%- if m.role == 'system' -%}{%- set ns.system = ns.system + m.content -%}{%- endif -%}"
    "{%- else -%}{%- for c in m.content -%}"
    "{%- if m.role == 'system' and c.type == 'text' -%}{%- set ns.system = ns.system + c.text -%}"
    "{%- elif c.type == 'audio' or ('audio' in c) or ('audio_url' in c) -%}"
    "{%- set ns.audio = ns.audio + " + _AUDIO_TOKENS + " -%}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}{%- endfor -%}"
    "{{- '<|im_start|>system\\n' + ns.system + '<|im_end|>\\n' -}}"
    "{{- '<|im_start|>user\\n' + ns.audio + '<|im_end|>\\n' -}}"
    "{%- for m in messages if m.role == 'assistant' -%}"
    "{%- set ns2 = namespace(text='') -%}"
    "{%- if m.content is string -%}{%- set ns2.text = m.content -%}"
    "{%- else -%}{%- for c in m.content if c.type == 'text' -%}"
    "{%- set ns2.text = ns2.text + c.text -%}{%- endfor -%}{%- endif -%}"
    "{{- '<|im_start|>assistant\\n' -}}{% generation %}{{- ns2.text + '<|im_end|>\\n' -}}"
    "{% endgeneration %}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)
# The aligner reads the audio, then the words, each followed by a start and an end marker.
_ALIGNER_TEMPLATE = (
    "{%- set ns = namespace(audio='', words=[]) -%}"
    "{%- for m in messages if m.content is not string -%}{%- for c in m.content -%}"
    "{%- if c.type == 'audio' or ('audio' in c) or ('audio_url' in c) -%}"
    "{%- set ns.audio = ns.audio + " + _AUDIO_TOKENS + " -%}"
    "{%- elif c.type == 'text' -%}{%- set ns.words = ns.words + [c.text] -%}{%- endif -%}"
    "{%- endfor -%}{%- endfor -%}"
    "{{- ns.audio + ns.words | join('<timestamp><timestamp>') + '<timestamp><timestamp>' -}}"
)
CHAT_TEMPLATES = {"asr": _ASR_TEMPLATE, "aligner": _ALIGNER_TEMPLATE}


def read_config(directory: Path) -> dict[str, Any]:
    path = directory / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable model config ({exc})") from exc
    if not isinstance(config, dict):
        raise ModelError(f"{path}: not a model config")
    return config


def is_original_layout(config: dict[str, Any]) -> bool:
    return config.get("model_type") == QWEN3_ASR and "thinker_config" in config


def qwen3_family(config: dict[str, Any]) -> str | None:
    """``qwen3_asr`` or ``qwen3_forced_aligner`` for a Qwen3-ASR config (either layout)."""
    if config.get("model_type") != QWEN3_ASR:
        return None
    thinker = config.get("thinker_config") or {}
    if "classify_num" in thinker or ALIGNER_CLASS in (config.get("architectures") or []):
        return FORCED_ALIGNER
    return QWEN3_ASR


def original_to_native(source: Path, target: Path) -> None:
    """Write the native layout of the original-layout folder ``source`` into ``target``."""
    config = read_config(source)
    if not is_original_layout(config):
        raise ModelError(f"{source}: not an original-layout Qwen3-ASR folder (no thinker_config)")
    aligner = qwen3_family(config) == FORCED_ALIGNER
    thinker = config["thinker_config"]
    audio = dict(thinker.get("audio_config") or {})
    text = dict(thinker.get("text_config") or {})
    if not audio or not text:
        raise ModelError(f"{source / 'config.json'}: thinker_config lacks audio or text config")
    audio.pop("model_type", None)
    audio.pop("max_source_positions", None)
    audio["max_position_embeddings"] = NATIVE_POSITIONS
    text["model_type"] = "qwen3"
    native: dict[str, Any] = {
        "model_type": QWEN3_ASR,
        "architectures": [ALIGNER_CLASS if aligner else ASR_CLASS],
        "audio_config": audio,
        "text_config": text,
        "tie_word_embeddings": bool(text.get("tie_word_embeddings", False)),
    }
    for key in ("audio_token_id", "timestamp_token_id", "initializer_range"):
        if key in thinker:
            native[key] = thinker[key]
    for key in ("pad_token_id", "eos_token_id", "support_languages"):
        if key in config:
            native[key] = config[key]
    if aligner:
        native["num_labels"] = thinker["classify_num"]
    if not (source / "tokenizer.json").is_file() and not (
        (source / "vocab.json").is_file() and (source / "merges.txt").is_file()
    ):
        raise ModelError(f"{source}: no tokenizer (tokenizer.json, or vocab.json and merges.txt)")
    keys = _ALIGNER_KEYS if aligner else _ASR_KEYS
    _convert_folder(source, target, native, lambda name: _rename(name, keys))
    _write_processor(source, target, aligner)


def native_to_original(source: Path, target: Path) -> None:
    """Write the original ``qwen-asr`` layout of the native folder ``source`` into ``target``."""
    config = read_config(source)
    family = qwen3_family(config)
    if family is None or is_original_layout(config):
        raise ModelError(f"{source}: not a native-layout Qwen3-ASR folder")
    aligner = family == FORCED_ALIGNER
    audio = dict(config["audio_config"])
    audio.pop("max_position_embeddings", None)
    audio["model_type"] = "qwen3_asr_audio_encoder"
    audio["max_source_positions"] = ORIGINAL_SOURCE_POSITIONS
    text = dict(config["text_config"])
    text["model_type"] = "qwen3_asr_text"
    thinker: dict[str, Any] = {"audio_config": audio, "text_config": text}
    for key in ("audio_token_id", "timestamp_token_id", "initializer_range"):
        if key in config:
            thinker[key] = config[key]
    if aligner:
        thinker["classify_num"] = (
            config["num_labels"] if "num_labels" in config else len(config["id2label"])
        )
    original: dict[str, Any] = {
        "model_type": QWEN3_ASR,
        "architectures": ["Qwen3ASRForConditionalGeneration"],
        "thinker_config": thinker,
    }
    for key in ("pad_token_id", "eos_token_id", "support_languages"):
        if key in config:
            original[key] = config[key]
    keys = _ALIGNER_KEYS if aligner else _ASR_KEYS
    reverse = tuple((new, old) for old, new in reversed(keys))
    _convert_folder(source, target, original, lambda name: _rename(name, reverse))


def copy_native(source: Path, target: Path) -> None:
    """A native-layout folder copied into ``target``, its weight shards joined into one file."""
    config = read_config(source)
    if qwen3_family(config) is None or is_original_layout(config):
        raise ModelError(f"{source}: not a native-layout Qwen3-ASR folder")
    _convert_folder(source, target, config, lambda name: name)
    for path in source.iterdir():  # processor settings, chat template, …
        if path.is_file() and path.suffix != ".safetensors" and not (target / path.name).exists():
            shutil.copyfile(path, target / path.name)


def _rename(name: str, mapping: tuple[tuple[str, str], ...]) -> str:
    for old, new in mapping:
        if name.startswith(old):
            return new + name[len(old) :]
    return name


def _convert_folder(source: Path, target: Path, config: dict[str, Any], rename) -> None:  # type: ignore[no-untyped-def]
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import save_file

    shards = sorted(source.glob("*.safetensors"))
    if not shards:
        raise ModelError(f"{source}: no .safetensors weights (other formats are not loaded)")
    target.mkdir(parents=True, exist_ok=True)
    tensors = {}
    try:
        for shard in shards:
            with safe_open(str(shard), framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    tensors[rename(name)] = handle.get_tensor(name)
    except (SafetensorError, OSError) as exc:
        raise ModelError(f"{shard}: unreadable weights ({exc})") from exc
    temporary = target / "model.safetensors.partial"
    save_file(tensors, str(temporary), metadata={"format": "pt"})
    temporary.replace(target / "model.safetensors")
    write_text(target / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
    for name in (*TOKENIZER_FILES, "generation_config.json"):
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)


def _write_processor(source: Path, target: Path, aligner: bool) -> None:
    """Feature extractor settings and chat template: the parts the original layout lacks.
    ``target`` holds ``source``'s tokenizer files; errors name ``source``, the user's folder."""
    from transformers import AutoTokenizer, Qwen3ASRFeatureExtractor, Qwen3ASRProcessor

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(target))
    except Exception as exc:  # tokenizers' parse errors are bare Exceptions
        raise ModelError(f"{source}: unreadable tokenizer ({exc})") from exc
    processor = Qwen3ASRProcessor(
        feature_extractor=Qwen3ASRFeatureExtractor(),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATES["aligner" if aligner else "asr"],
    )
    processor.save_pretrained(str(target))
