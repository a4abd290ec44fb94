"""The family-specific parts of a tune behind one interface; the training loop is shared.

A family knows how its model reads a row (examples and batches), which Linear layers the
LoRA presets name, where its encoder and decoder live, and how it transcribes for WER.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

from voxtune.engine.errors import ModelError

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
    family = loaded.info.family
    if family == "whisper":
        from voxtune.engine.families.whisper.tune import WhisperFamily

        return WhisperFamily(loaded)
    if family == "qwen3_asr":
        from voxtune.engine.families.qwen3_asr.tune import Qwen3Family

        return Qwen3Family(loaded)
    raise ModelError(
        f"{loaded.info.name}: tuning supports Whisper and Qwen3-ASR models (not {family})"
    )
