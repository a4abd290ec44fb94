"""The family-specific parts of a tune behind one interface; the training loop is shared.

Each family's entry in the table (``engine/families/``) gives its recipe through
``Family.tune_recipe``. A recipe knows how its model reads a row (examples and batches),
which Linear layers the LoRA presets name, where its encoder and decoder live, and how it
transcribes for WER.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    import torch

    from voxtune.engine.models import LoadedModel
    from voxtune.engine.tune.examples import Example
    from voxtune.engine.tune.validation import CheckedRow


class TuneFamily(Protocol):
    # Module-name segments of each trainable part ("decoder." matches "model.decoder.layers…").
    part_prefixes: ClassVar[dict[str, tuple[str, ...]]]
    # Linear-layer names each LoRA preset wraps, inside the parts that train.
    lora_targets: ClassVar[dict[str, tuple[str, ...]]]

    def max_text_tokens(self) -> int:
        """The longest transcript (in tokens) one example may carry."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def language_problem(self, language: str) -> str | None:
        """Why rows in ``language`` (a code or a name) cannot be trained on, or None."""
        ...

    def build_examples(
        self,
        rows: list[CheckedRow],
        model: torch.nn.Module,
        *,
        encode: bool,
        default_language: str | None,
        device: str,
    ) -> list[Example]:
        """Examples in row order; ``encode``: cache the frozen encoder's outputs."""
        ...

    def loss(
        self, model: torch.nn.Module, batch: list[Example], device: str, dtype: torch.dtype
    ) -> torch.Tensor:
        """Mean cross-entropy over the batch's target tokens (a graph to backpropagate)."""
        ...

    def transcribe(
        self, model: torch.nn.Module, examples: list[Example], device: str, dtype: torch.dtype
    ) -> list[str]:
        """Greedy transcripts of ``examples``, in order."""
        ...


def tune_family(loaded: LoadedModel) -> TuneFamily:
    """The tuning side of ``loaded``'s family; ModelError for a family that cannot be tuned."""
    from voxtune.engine.families.table import family_of

    return family_of(loaded.info).tune_recipe(loaded)
