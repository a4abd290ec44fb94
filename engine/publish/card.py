"""The model card a push writes: huggingface_hub's ``ModelCard`` with ``model-index`` metadata
(``ModelCardData`` + ``EvalResult``), and a body made from the folder's own records.

Every figure comes from ``tune-summary.json`` or an ``export-report.json``; nothing is
measured here. Local paths never appear: a card is public, the user's folders are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.publish.contents import (
    REPORT,
    SUMMARY,
    ExportEntry,
    FolderContents,
    TuneEntry,
)

if TYPE_CHECKING:
    from huggingface_hub import EvalResult, ModelCard

TASK = "automatic-speech-recognition"
# Voxtune's own names for the models it ships, as the Hub knows them.
WHISPER_HUB_IDS = {
    "whisper-tiny.en": "openai/whisper-tiny.en",
    "whisper-base": "openai/whisper-base",
}
# The licences of the base models' Hub repositories (a tune inherits its base's).
LICENCES_BY_PREFIX = {"openai/whisper-": "mit", "Qwen/Qwen3-": "apache-2.0"}
FORMAT_TAGS = {"onnx": "onnx", "gguf": "gguf", "ggml": "whisper.cpp"}
# What each export format runs on, for the card's how-to.
ENGINES = {
    "onnx": "onnxruntime (`--backend onnx`, chosen by itself for an export folder)",
    "gguf": "llama.cpp with libmtmd (`--backend llamacpp`)",
    "ggml": "whisper.cpp (`--backend whispercpp`)",
}


def hub_id_of(base: str | None) -> str | None:
    """The Hub id of a base model, when it has one: Voxtune's built-in names, the Qwen3-ASR
    registry, or an ``org/name`` id that is not a local folder."""
    if not base:
        return None
    from voxtune.engine.families.qwen3_asr.registry import QWEN3_MODELS
    from voxtune.engine.models.hub import REPO_ID

    if base in WHISPER_HUB_IDS:
        return WHISPER_HUB_IDS[base]
    if base in QWEN3_MODELS:
        return QWEN3_MODELS[base]
    if REPO_ID.match(base) and not Path(base).expanduser().exists():
        return base
    return None


def licence_of(base_id: str | None) -> str | None:
    for prefix, licence in LICENCES_BY_PREFIX.items():
        if base_id and base_id.startswith(prefix):
            return licence
    return None


def build_card(contents: FolderContents, repo_id: str, licence: str | None = None) -> ModelCard:
    from huggingface_hub import ModelCard, ModelCardData

    base_id = hub_id_of(contents.base)
    licence = licence or licence_of(base_id)
    name = repo_id.split("/")[-1]
    formats = sorted({e.format for e in contents.exports if e.format in FORMAT_TAGS})
    tags = ["voxtune", *([contents.family] if contents.family else [])]
    tags += [FORMAT_TAGS[f] for f in formats]
    if contents.adapter:
        tags.append("lora")
    library = "peft" if contents.adapter else "transformers" if contents.full_models else None
    languages = list(contents.languages) if 0 < len(contents.languages) <= 10 else None
    data = ModelCardData(
        model_name=name,
        base_model=base_id,
        license=licence,
        language=languages,
        library_name=library,
        pipeline_tag=TASK,
        tags=tags,
        eval_results=_eval_results(contents) or None,
    )
    body = _body(contents, repo_id, name, base_id, licence)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def _eval_results(contents: FolderContents) -> list[EvalResult]:
    from huggingface_hub import EvalResult

    results = []
    tune = contents.tune
    if tune is not None and tune.wer_after is not None:
        held_out = tune.validation_name or f"{tune.data_name} (held-out split)"
        results.append(
            EvalResult(
                task_type=TASK,
                dataset_type="local",
                dataset_name=held_out,
                dataset_split="validation",
                metric_type="wer",
                metric_name="WER (%)",
                metric_value=_percent(tune.wer_after),
            )
        )
    for export in contents.exports:
        shipped = export.shipped_manifest
        results.append(
            EvalResult(
                task_type=TASK,
                dataset_type="google/fleurs" if shipped else "local",
                dataset_name="FLEURS en_us, dev clips shipped with Voxtune"
                if shipped
                else export.manifest,
                dataset_config="en_us" if shipped else None,
                dataset_split="validation" if shipped else None,
                metric_type="wer",
                metric_name=f"WER (%), {_label(export)}",
                metric_value=_percent(export.export.wer),
            )
        )
    return results


def _percent(wer: float) -> float:
    return round(100 * wer, 2)


def _label(export: ExportEntry) -> str:
    return f"{export.format} {export.quantisation}"


def _body(
    contents: FolderContents,
    repo_id: str,
    name: str,
    base_id: str | None,
    licence: str | None,
) -> str:
    base = f"[{base_id}](https://huggingface.co/{base_id})" if base_id else _shown(contents.base)
    family = contents.family or "speech recognition"
    verb = "tuned from" if contents.tuned else "exported from"
    parts = [
        f"# {name}",
        f"A {family} speech recognition model {verb} {base}, made with Voxtune (local "
        "transcription and ASR tuning).",
    ]
    if contents.tune is not None:
        parts += _training(contents.tune, base)
    if contents.exports:
        parts += _exports(contents.exports)
    parts += _how_to_run(contents, repo_id, name)
    parts += _licence(licence, base_id)
    records = [SUMMARY] if contents.tune else []
    records += [REPORT] if contents.exports else []
    if records:
        sources = " and ".join(f"`{r}`" for r in records)
        parts.append(f"_Written by `voxtune push` from the folder's {sources}._")
    return "\n\n".join(parts) + "\n"


def _shown(base: str | None) -> str:
    """A base that is not on the Hub, by its last name only (never a local path)."""
    return f"`{Path(base).name}`" if base else "an unnamed base model"


def _training(tune: TuneEntry, base: str) -> list[str]:
    o = tune.options
    if o.get("method") == "lora":
        method = (
            f"LoRA rank {o.get('lora_rank')}, alpha {o.get('lora_alpha')} on "
            f"{o.get('lora_targets')} layers"
        )
    else:
        method = "full fine-tuning"
    examples = ""
    if tune.train_examples is not None:
        examples = f" ({tune.train_examples} training, {tune.validation_examples} validation)"
    validation = tune.validation_name or "a seeded random split of the data"
    length = f"{o['max_steps']} steps" if o.get("max_steps") else f"{o.get('epochs')} epochs"
    stop = f", best at step {tune.best_step}" + (", stopped early" if tune.stopped_early else "")
    rows = [
        ("base model", base),
        ("data", f"`{tune.data_name}`{examples}"),
        ("validation", f"`{validation}`" if tune.validation_name else validation),
        ("method", f"{method}; trains the {o.get('train', 'decoder')}"),
        ("schedule", f"{length} asked, {tune.steps} run{stop}"),
        (
            "batch",
            f"{o.get('batch_size')} × {o.get('gradient_accumulation', 1)} accumulation, "
            f"learning rate {o.get('learning_rate')}",
        ),
        ("language", str(o.get("language") or "as the data says")),
    ]
    table = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    lines = ["## Training", "\n".join(table)]
    if tune.wer_before is not None and tune.wer_after is not None:
        lines.append(
            "## Results\n\nWord error rate on the validation examples (Voxtune's normalisation: "
            "NFKC, lower case, no punctuation):\n\n"
            "| | WER % |\n|---|---|\n"
            f"| before tuning (the base) | {_percent(tune.wer_before):.2f} |\n"
            f"| after tuning | {_percent(tune.wer_after):.2f} |"
        )
    return lines


def _exports(exports: tuple[ExportEntry, ...]) -> list[str]:
    header = (
        "| folder | format | quantisation | size MB | WER % | source WER % (torch) | "
        "RTF | source RTF | evaluated on |\n|---|---|---|---|---|---|---|---|---|"
    )
    rows = [
        f"| {_folder(e.path)} | {e.format} | {e.quantisation} | {e.export.size_bytes / 1e6:.1f} | "
        f"{_percent(e.export.wer):.2f} | {_percent(e.source.wer):.2f} | {e.export.rtf:.3f} | "
        f"{e.source.rtf:.3f} | {_evaluated_on(e)} |"
        for e in exports
    ]
    return [
        "## Exports",
        "Each export re-transcribed an evaluation set through its own engine when it was made; "
        "RTF is processing time over audio time on the machine that exported it (lower is "
        "faster).",
        "\n".join([header, *rows]),
    ]


def _evaluated_on(export: ExportEntry) -> str:
    return "FLEURS en (shipped clips)" if export.shipped_manifest else f"`{export.manifest}`"


def _how_to_run(contents: FolderContents, repo_id: str, name: str) -> list[str]:
    lines = [
        "## How to run",
        f"Download the repository first:\n\n```sh\nhf download {repo_id} --local-dir {name}\n```",
    ]
    for folder in contents.full_models:
        lines.append(
            f"**Hugging Face model** (`{folder}/`, safetensors):\n\n```sh\n"
            f"voxtune transcribe talk.wav --model {_join(name, folder)}\n```"
        )
    if contents.adapter:
        adapter = contents.adapter
        # Voxtune names a built-in or Hub base as it is; a local folder is the user's own.
        base = contents.base if hub_id_of(contents.base) else "BASE"
        peft = "" if adapter == "." else f', subfolder="{adapter}"'
        lines.append(
            f"**LoRA adapter** (`{adapter}/`, peft): Voxtune applies it to its base "
            f"(`{base}`):\n\n```sh\n"
            f"voxtune eval held-out.tsv --model {base} --adapter {_join(name, adapter)}\n"
            f"voxtune export onnx {base} --adapter {_join(name, adapter)} --out {name}-onnx\n"
            f'```\n\nor in Python: `PeftModel.from_pretrained(base_model, "{repo_id}"{peft})`.'
        )
    for export in contents.exports:
        engine = ENGINES.get(export.format, "its engine")
        backend = {"gguf": " --backend llamacpp", "ggml": " --backend whispercpp"}.get(
            export.format, ""
        )
        target = _join(name, export.path)
        if export.format == "ggml":
            target = _join(target, _first(export.files, ".bin"))
        lines.append(
            f"**{export.format} {export.quantisation}** ({_folder(export.path)}) runs on {engine}:"
            f"\n\n```sh\nvoxtune transcribe talk.wav --model {target}{backend}\n```"
            + _engine_alone(export, name)
        )
    return lines


def _engine_alone(export: ExportEntry, name: str) -> str:
    """How the export's own engine runs it without Voxtune."""
    folder = _join(name, export.path)
    if export.format == "gguf":
        mmproj = next((f for f in export.files if "mmproj" in f and f.endswith(".gguf")), None)
        model = next((f for f in export.files if f.endswith(".gguf") and f != mmproj), None)
        if model and mmproj:
            return (
                "\n\nor with llama.cpp itself: `llama-mtmd-cli -m "
                f"{_join(folder, model)} --mmproj {_join(folder, mmproj)} --audio talk.wav`"
            )
    if export.format == "ggml" and (model := _first(export.files, ".bin")):
        return f"\n\nor in whisper.cpp: `whisper-cli -m {_join(folder, model)} -f talk.wav`"
    if export.format == "onnx":
        return (
            "\n\nThe graphs need nothing of Voxtune: its README's \"Running an export "
            'without Voxtune" is a complete onnxruntime decoder.'
        )
    return ""


def _folder(path: str) -> str:
    return "the repository's root" if path == "." else f"`{path}/`"


def _first(files: tuple[str, ...], suffix: str) -> str:
    return next((f for f in files if f.endswith(suffix)), "")


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p and p != ".")


def _licence(licence: str | None, base_id: str | None) -> list[str]:
    if licence is None:
        return ["## Licence", "Not stated: the base model's licence applies to these weights."]
    origin = f", the licence of {base_id}" if base_id and licence_of(base_id) == licence else ""
    return ["## Licence", f"`{licence}`{origin}."]
