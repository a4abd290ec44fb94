"""Which forced aligner times a model's words: one rule for the CLI, live and jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError

if TYPE_CHECKING:
    from voxtune.engine.models import LoadedModel

NO_ALIGNER = "none"  # asked for segment times only


def load_aligner(loaded: LoadedModel, name: str | None, device: str) -> LoadedModel | None:
    """The aligner for ``loaded``: ``name`` (``"none"``: none), or by default its family's
    (``Family.default_aligner``: one already here, never a download nobody asked for). A
    family that times its own words refuses an aligner named for it rather than ignore it."""
    from voxtune.engine.families.table import family_of
    from voxtune.engine.models import load_model

    if name == NO_ALIGNER:
        return None
    family = family_of(loaded.info)
    if not family.takes_aligner:
        if name is None:
            return None
        raise ModelError(
            f"{name}: a forced aligner times Qwen3-ASR words; "
            f"{loaded.info.name} is a {loaded.info.family} model"
        )
    name = name if name is not None else family.default_aligner()
    return None if name is None else load_model(name, device=device)
