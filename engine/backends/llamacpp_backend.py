"""The llamacpp backend: a GGUF export folder (``voxtune export gguf``) run by llama.cpp
through libmtmd (the ``llama-cpp-py-sync`` wheel, CPU build).

The family loads it (``Family.load_export``) and decodes with its own chunking, prompts and
parsing, so the Transcript has the same shape as torch's: text, segments, words when an
aligner times them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError

if TYPE_CHECKING:
    from voxtune.engine.families.family import Family
    from voxtune.engine.models.info import LoadedModel, ModelInfo


class LlamaCppBackend:
    name = "llamacpp"

    def load(self, family: Family, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        from voxtune.engine.export.gguf_files import is_gguf_export, read_metadata

        if not is_gguf_export(info.location):
            raise ModelError(
                f"{info.name}: not a GGUF export (make one with "
                f"`voxtune export gguf {info.name} --out DIR`, then pass --model DIR)"
            )
        # The export's number format (--quant) decides; ``dtype`` is the torch backend's.
        return family.load_export(info, read_metadata(info.location), device)


LLAMACPP = LlamaCppBackend()
