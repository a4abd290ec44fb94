"""A set of sentences the user reads aloud in the app: takes as wav, a manifest to tune on.

One folder under Voxtune's home (``recordings/NAME``) holds ``sentences.txt`` (what there is
to read, one a line), a ``take-NNN.wav`` per recorded sentence and ``manifest.tsv``
(``audio``/``text``, the columns ``voxtune finetune`` and ``voxtune eval`` both read) listing
the recorded ones. Torch-free: the wizard writes the text files, the engine the takes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.atomic import write_text
from voxtune.engine.home import home

SENTENCES = "sentences.txt"
MANIFEST = "manifest.tsv"
DEFAULT_SET = "my-voice"


def recordings_dir() -> Path:
    return home() / "recordings"


@dataclass(frozen=True, slots=True)
class RecordingSet:
    folder: Path

    @classmethod
    def default(cls) -> RecordingSet:
        return cls(recordings_dir() / DEFAULT_SET)

    @property
    def manifest(self) -> Path:
        return self.folder / MANIFEST

    def take(self, index: int) -> Path:
        return self.folder / f"take-{index + 1:03d}.wav"

    def sentences(self) -> list[str]:
        try:
            text = (self.folder / SENTENCES).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]

    def save_sentences(self, sentences: list[str]) -> None:
        """Keep the list (its takes are by position: a changed list starts them afresh)."""
        old = self.sentences()
        for index, _ in enumerate(old):
            if index >= len(sentences) or sentences[index] != old[index]:
                self.take(index).unlink(missing_ok=True)
        write_text(self.folder / SENTENCES, "".join(f"{s}\n" for s in sentences))
        self.write_manifest()

    def recorded(self) -> list[int]:
        return [i for i, _ in enumerate(self.sentences()) if self.take(i).is_file()]

    def write_manifest(self) -> Path:
        """``manifest.tsv`` of the sentences that have a take, audio named relative to it."""
        sentences = self.sentences()
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
        writer.writerow(("audio", "text"))
        for index in self.recorded():
            writer.writerow((self.take(index).name, sentences[index]))
        return write_text(self.manifest, buffer.getvalue())
