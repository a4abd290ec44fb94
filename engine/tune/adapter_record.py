"""Which base model an adapter folder was tuned on, read without torch or peft.

A tune writes ``voxtune-tune.json`` (``{"base": NAME, ...}``) beside the adapter; an adapter
from elsewhere names its base in peft's ``adapter_config.json``. Loading (``load_with_adapter``)
and the CLI's up-front ``--language`` check both ask here, so both mean the same base.
"""

from __future__ import annotations

import json
from pathlib import Path

from voxtune.engine.models.info import DEFAULT_MODEL
from voxtune.engine.models.manifest import ADAPTER_CONFIG

TUNE_RECORD = "voxtune-tune.json"


def recorded_base(adapter: Path) -> str:
    """The base ``adapter`` records (the default model when its config names none);
    OSError or ValueError when the folder holds neither record readably."""
    record = adapter / TUNE_RECORD
    if record.is_file():
        return str(json.loads(record.read_text(encoding="utf-8"))["base"])
    config = json.loads((adapter / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    return str(config.get("base_model_name_or_path") or DEFAULT_MODEL)
