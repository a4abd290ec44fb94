"""Voxtune's JSON records as they are published: local paths reduced to their last name.

A tune's summary names its data folder, an adapter's config and record its base's folder, an
export's report its manifest: on a user's machine those are paths (``/home/alice/clients/…``)
that mean nothing elsewhere and say too much. The uploaded copy keeps every other value;
the folder on disk is not changed. A base model is named as it can be found after a
download: by its Hub id for peft, by Voxtune's name (or the Hub id) for Voxtune.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from voxtune.engine.publish.contents import ADAPTER_CONFIG, REPORT, SUMMARY, TUNE_RECORD

RECORDS = (SUMMARY, REPORT, TUNE_RECORD, ADAPTER_CONFIG, "voxtune-*.json")
# Values that are local paths whether absolute or relative.
PATH_KEYS = {"data", "out", "validation", "manifest", "adapter", "merged", "base_location"}


@dataclass(frozen=True)
class BaseNames:
    original: str  # as the folder's records name it (may be a local path)
    voxtune: str  # what ``--model`` takes: a built-in name, a Hub id, or a folder's last name
    hub_id: str | None


def base_names(base: str | None) -> BaseNames | None:
    from voxtune.engine.publish.card import hub_id_of

    if not base:
        return None
    hub_id = hub_id_of(base)
    return BaseNames(original=base, voxtune=base if hub_id else Path(base).name, hub_id=hub_id)


def is_record(name: str) -> bool:
    return any(fnmatch.fnmatch(PurePosixPath(name).name, pattern) for pattern in RECORDS)


def public_record(path: Path, base: BaseNames | None) -> bytes | None:
    """The record's published bytes, or None to upload the file as it is (nothing to change,
    or not JSON we can read: then it is the user's own file, sent untouched)."""
    try:
        original = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    public = _public(original, None, base)
    if public == original:
        return None
    return (json.dumps(public, indent=2) + "\n").encode("utf-8")


def _public(value: Any, key: str | None, base: BaseNames | None) -> Any:
    if isinstance(value, dict):
        return {k: _public(v, k, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v, None, base) for v in value]
    if not isinstance(value, str):
        return value
    if key == "base_model_name_or_path" and base is not None:  # peft's: a Hub id or nothing
        return base.hub_id or base.voxtune
    if key == "base" and base is not None:
        # An export of a tune names its model BASE+ADAPTER (``load_with_adapter``).
        head, plus, tail = value.partition("+")
        if head == base.original:
            return base.voxtune + plus + tail
    if key in PATH_KEYS or _is_local_path(value):
        return Path(value).name
    return value


def _is_local_path(text: str) -> bool:
    return (os.path.isabs(text) or text.startswith("~")) and "\n" not in text
