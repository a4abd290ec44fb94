"""Which Qwen3-ForcedAligner times a model's words: one rule for the CLI, live and jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError

if TYPE_CHECKING:
    from voxtune.engine.models import LoadedModel

NO_ALIGNER = "none"  # asked for segment times only


def load_aligner(loaded: LoadedModel, name: str | None, device: str) -> LoadedModel | None:
    """The aligner for ``loaded``: ``name`` (``"none"``: none), or by default the registry's
    one when it is already downloaded — never a download nobody asked for. Whisper times its
    own words: an aligner named for it is refused rather than silently ignored."""
    from voxtune.engine.families.qwen3_asr.layout import QWEN3_ASR
    from voxtune.engine.families.qwen3_asr.registry import DEFAULT_ALIGNER, resolve_qwen3
    from voxtune.engine.models import load_model

    if name == NO_ALIGNER:
        return None
    if loaded.info.family != QWEN3_ASR:
        if name is None:
            return None
        raise ModelError(
            f"{name}: a forced aligner times Qwen3-ASR words; "
            f"{loaded.info.name} is a {loaded.info.family} model"
        )
    if name is None:
        try:
            resolve_qwen3(DEFAULT_ALIGNER, download=False)
        except ModelError:
            return None
        name = DEFAULT_ALIGNER
    return load_model(name, device=device)
