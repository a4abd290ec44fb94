"""What a folder to publish holds, read from the records Voxtune wrote beside the weights.

A tune's output folder (``tune-summary.json``, ``adapter/``, ``merged/`` or ``model/``), an
export folder (``export-report.json`` beside its files), or a folder of several exports: every
``export-report.json`` in the folder or below it is one export. Torch-free: reading records
only, never weights.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from voxtune.engine.errors import VoxtuneError

SUMMARY = "tune-summary.json"  # as engine/tune/trainer.py writes it
REPORT = "export-report.json"  # as engine/export/onnx_files.py (and every export) writes it
TUNE_RECORD = "voxtune-tune.json"  # engine/tune/adapter_record.py
ADAPTER_CONFIG = "adapter_config.json"
MODEL_CONFIG = "config.json"
CARD = "README.md"  # the Hub's model card; the generated one replaces a folder's own

# Never published: training state (checkpoints hold the optimizer's torch.save state, a pickle),
# pickled weights of any kind, hidden and half-written folders, and the folder's own cards:
# peft's stub cards too (they name the base by its local path).
EXCLUDED = (
    "checkpoints/*", "*/checkpoints/*", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt",
    ".*", "*/.*", CARD, f"*/{CARD}",
)  # fmt: skip

SHIPPED = "assets/eval-en/manifest.tsv"  # engine/export/verify.py DEFAULT_MANIFEST

# Which engine runs an export, by the kind of file its report lists.
FORMAT_BY_SUFFIX = {".onnx": "onnx", ".gguf": "gguf", ".bin": "ggml"}


@dataclass(frozen=True)
class EngineFigures:
    wer: float  # 0..1
    rtf: float
    size_bytes: int


@dataclass(frozen=True)
class ExportEntry:
    path: str  # posix, relative to the folder; "." for the folder itself
    format: str  # onnx | gguf | ggml | unknown
    quantisation: str
    family: str
    model: str  # the source model the export was made from
    manifest: str  # the evaluation manifest's file name (never the local path)
    shipped_manifest: bool  # the FLEURS clips shipped with Voxtune (export's default --eval)
    export: EngineFigures
    source: EngineFigures
    files: tuple[str, ...]


@dataclass(frozen=True)
class TuneEntry:
    base: str
    wer_before: float | None
    wer_after: float | None
    steps: int
    best_step: int
    stopped_early: bool
    options: dict  # what shaped the run (method, rank, epochs, learning rate, ...)
    data_name: str  # the data folder's or file's name only
    validation_name: str | None
    train_examples: int | None
    validation_examples: int | None


@dataclass(frozen=True)
class FolderContents:
    root: Path
    tune: TuneEntry | None
    exports: tuple[ExportEntry, ...]
    adapter: str | None  # posix path of the PEFT adapter folder, relative to ``root``
    full_models: tuple[str, ...]  # Hugging Face model folders (merged/, model/), relative
    base: str | None  # the base model the weights came from, as Voxtune named it
    family: str | None
    languages: tuple[str, ...]
    files: tuple[str, ...]  # what an upload sends, posix paths relative to ``root``

    @property
    def tuned(self) -> bool:
        """A tune's weights, or exports of one (their model is named BASE+ADAPTER)."""
        return bool(self.tune or self.adapter or any("+" in e.model for e in self.exports))


def read_folder(root: Path) -> FolderContents:
    """VoxtuneError (one line naming the file) for a folder that is not a tune or an export,
    or whose records cannot be read."""
    if not root.is_dir():
        raise VoxtuneError(f"{root}: not a folder")
    files = uploadable_files(root)
    tune = _tune(root / SUMMARY) if (root / SUMMARY).is_file() else None
    exports = tuple(
        _export(root, PurePosixPath(name).parent)
        for name in files
        if PurePosixPath(name).name == REPORT
    )
    adapter = _first_folder(files, ADAPTER_CONFIG)
    full_models = tuple(
        folder
        for folder in _folders(files, MODEL_CONFIG)
        if _has(files, folder, "*.safetensors") and not _has(files, folder, "*.onnx")
    )
    if tune is None and not exports and adapter is None and not full_models:
        raise VoxtuneError(
            f"{root}: not a tune or an export folder (no {SUMMARY}, {REPORT}, "
            f"{ADAPTER_CONFIG} or model weights)"
        )
    base, family, languages = _origin(root, tune, exports, adapter)
    return FolderContents(
        root=root,
        tune=tune,
        exports=exports,
        adapter=adapter,
        full_models=full_models,
        base=base,
        family=family,
        languages=languages,
        files=files,
    )


def uploadable_files(root: Path) -> tuple[str, ...]:
    names = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(root).as_posix()
        if not any(fnmatch.fnmatch(name, pattern) for pattern in EXCLUDED):
            names.append(name)
    return tuple(names)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VoxtuneError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise VoxtuneError(f"{path}: unreadable (not a JSON object)")
    return data


def _tune(path: Path) -> TuneEntry:
    summary = _read_json(path)
    config = summary.get("config", {})
    data = summary.get("data", {})  # tunes from before it was recorded have none
    shaping = (
        "method", "train", "lora_rank", "lora_alpha", "lora_targets", "epochs", "max_steps",
        "batch_size", "gradient_accumulation", "learning_rate", "language", "seed",
    )  # fmt: skip
    try:
        return TuneEntry(
            base=str(config["base"]),
            wer_before=summary.get("wer_before"),
            wer_after=summary.get("wer_after"),
            steps=int(summary["steps"]),
            best_step=int(summary.get("best_step") or summary["steps"]),
            stopped_early=bool(summary.get("stopped_early")),
            options={key: config[key] for key in shaping if key in config},
            data_name=_name_only(config.get("data")) or "?",
            validation_name=_name_only(config.get("validation")),
            train_examples=data.get("train_examples"),
            validation_examples=data.get("validation_examples"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VoxtuneError(f"{path}: not a tune summary (missing {exc})") from None


def _name_only(value: object) -> str | None:
    """A local path as its last part: a card is public, the user's folders are not."""
    if value in (None, "", "None"):
        return None
    return Path(str(value)).name


def _export(root: Path, folder: PurePosixPath) -> ExportEntry:
    path = root / folder / REPORT
    report = _read_json(path)
    try:
        files = tuple(sorted(report["files"]))
        return ExportEntry(
            path=folder.as_posix(),
            format=str(report.get("format") or _format_of(files)),
            quantisation=str(report["quantisation"]),
            family=str(report["family"]),
            model=str(report["model"]),
            manifest=_name_only(report.get("manifest")) or "?",
            shipped_manifest=str(report.get("manifest", "")).replace("\\", "/").endswith(SHIPPED),
            export=_figures(report["export"], int(report["export_bytes"])),
            source=_figures(report["source"], int(report["source_bytes"])),
            files=files,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VoxtuneError(f"{path}: not an export report (missing {exc})") from None


def _figures(score: dict, size: int) -> EngineFigures:
    audio = float(score["audio_seconds"])
    rtf = float(score["wall_seconds"]) / audio if audio else 0.0
    return EngineFigures(wer=float(score["wer"]), rtf=rtf, size_bytes=size)


def _format_of(files: tuple[str, ...]) -> str:
    for name in files:
        if (kind := FORMAT_BY_SUFFIX.get(PurePosixPath(name).suffix)) is not None:
            return kind
    return "unknown"


def _folders(files: tuple[str, ...], marker: str) -> list[str]:
    return [
        PurePosixPath(name).parent.as_posix()
        for name in files
        if PurePosixPath(name).name == marker
    ]


def _first_folder(files: tuple[str, ...], marker: str) -> str | None:
    return next(iter(_folders(files, marker)), None)


def _has(files: tuple[str, ...], folder: str, pattern: str) -> bool:
    prefix = "" if folder == "." else f"{folder}/"
    return any(
        name.startswith(prefix) and "/" not in name[len(prefix) :]
        and fnmatch.fnmatch(name[len(prefix) :], pattern)
        for name in files
    )  # fmt: skip


def _origin(
    root: Path, tune: TuneEntry | None, exports: tuple[ExportEntry, ...], adapter: str | None
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(base, family, languages) from the tune's summary, the adapter's record or an export's
    metadata, whichever the folder has."""
    base = tune.base if tune else None
    if base is None and adapter is not None and (root / adapter / TUNE_RECORD).is_file():
        base = str(_read_json(root / adapter / TUNE_RECORD).get("base") or "") or None
    family = exports[0].family if exports else None
    languages: tuple[str, ...] = ()
    for export in exports:
        metadata = root / export.path / "voxtune-onnx.json"
        if metadata.is_file():
            record = _read_json(metadata)
            languages = languages or tuple(record.get("languages") or ())
            base = base or _without_adapter(record.get("base"))
    if base is None and exports:
        base = _without_adapter(exports[0].model)
    if family is None:
        family = _family_of_weights(root) or _family_of_name(base)
    if tune and tune.options.get("language"):
        languages = (str(tune.options["language"]),)
    elif not languages and base and base.endswith(".en"):
        languages = ("en",)  # Whisper's English-only checkpoints say so in their name
    return base, family, languages


def _family_of_weights(root: Path) -> str | None:
    """The ``model_type`` of a full model in the folder (merged/, model/, or the folder)."""
    for folder in ("merged", "model", "."):
        config = root / folder / MODEL_CONFIG
        if config.is_file():
            return str(_read_json(config).get("model_type") or "") or None
    return None


def _family_of_name(base: str | None) -> str | None:
    name = Path(base).name.lower() if base else ""
    if name.startswith("whisper"):
        return "whisper"
    if name.startswith("qwen3-asr"):
        return "qwen3_asr"
    return None


def _without_adapter(name: object) -> str | None:
    """An export of a tune names its model ``BASE+ADAPTER`` (``load_with_adapter``)."""
    return str(name).split("+", 1)[0] if name else None
