"""The whispercpp backend: a whisper.cpp model file (``voxtune export ggml``, or one of
whisper.cpp's own) run by whisper.cpp through pywhispercpp.

The family loads it (``Family.load_export``) and returns the same Transcript as the other
backends: segments, words with times (whisper.cpp's token timestamps), confidences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError

if TYPE_CHECKING:
    from voxtune.engine.families.family import Family
    from voxtune.engine.models.info import LoadedModel, ModelInfo


class WhisperCppBackend:
    name = "whispercpp"

    def load(self, family: Family, info: ModelInfo, device: str, dtype: str) -> LoadedModel:
        from voxtune.engine.export.ggml_files import GGML_SOURCE, read_ggml

        if info.source != GGML_SOURCE:
            raise ModelError(
                f"{info.name}: not a whisper.cpp model file (make one with "
                f"`voxtune export ggml {info.name} --out FILE`, then pass --model FILE)"
            )
        # The file's own number format (f16, q8_0, …) decides; ``dtype`` is torch's choice.
        hparams = read_ggml(info.location).hparams
        return family.load_export(info, {"format": "ggml", **vars(hparams)}, device)


WHISPERCPP = WhisperCppBackend()
