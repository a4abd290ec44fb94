"""The table of model families: ``name -> Family``, each entry in its own package.

Built-in entries come first; then every entry point in the group ``voxtune.families``
(``name = "package.module:ATTRIBUTE"``, an installed plug-in), then ``VOXTUNE_FAMILIES``, a
comma-separated list of ``module:attribute`` (read again whenever it changes, so a spawned
engine process inherits the families of the process that set it), then ``register_family``
calls (this process only). A later entry of the same name replaces an earlier one, and is
asked first which folder is its own (a plug-in may claim folders a built-in would take).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from voxtune.engine.errors import ModelError

if TYPE_CHECKING:
    from voxtune.engine.families.family import Family
    from voxtune.engine.models.info import ModelInfo

ENTRY_POINT_GROUP = "voxtune.families"
FAMILIES_ENV = "VOXTUNE_FAMILIES"
BUILTIN_FAMILIES = (
    "voxtune.engine.families.whisper.family:WHISPER",
    "voxtune.engine.families.qwen3_asr.family:QWEN3_ASR",
    "voxtune.engine.families.forced_aligner.family:FORCED_ALIGNER",
)

_registered: dict[str, Family] = {}
_loaded: tuple[str, dict[str, Family]] | None = None  # (VOXTUNE_FAMILIES, table) last built


def families() -> Mapping[str, Family]:
    """Every family, by name, in the order they were added."""
    global _loaded
    extra = os.environ.get(FAMILIES_ENV, "")
    if _loaded is None or _loaded[0] != extra:
        table: dict[str, Family] = {}
        specs = [*BUILTIN_FAMILIES, *(e.value for e in entry_points(group=ENTRY_POINT_GROUP))]
        specs.extend(spec.strip() for spec in extra.split(",") if spec.strip())
        for spec in specs:
            family = _imported(spec)
            table[family.name] = family
        _loaded = (extra, table)
    return {**_loaded[1], **_registered}


def register_family(family: Family) -> None:
    """Add (or replace) a family in this process; a spawned engine needs VOXTUNE_FAMILIES."""
    _registered[family.name] = family


def unregister_family(name: str) -> None:
    _registered.pop(name, None)


def family_named(name: str) -> Family:
    table = families()
    if name not in table:
        raise ModelError(f"no model family {name!r} (known: {', '.join(table)})")
    return table[name]


def family_of(info: ModelInfo) -> Family:
    """The family of a resolved model; ModelError for one Voxtune cannot run."""
    table = families()
    if info.family not in table:
        raise ModelError(
            f"{info.location}: a {info.family} model; Voxtune runs {', '.join(table)} models"
        )
    return table[info.family]


def family_for_config(config: Mapping[str, Any]) -> Family | None:
    """The family that claims a folder with this ``config.json``; the latest added asks first."""
    for family in reversed(list(families().values())):
        if family.recognises(config):
            return family
    return None


def _imported(spec: str) -> Family:
    module, _, attribute = spec.partition(":")
    if not module or not attribute:
        raise ModelError(f"{spec!r}: a model family is named as module:attribute")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"{spec}: cannot load this model family ({exc})") from exc
