"""The live session's committed words, kept by the engine so that it writes the files.

``SaveLive`` writes them as SRT, VTT, TXT or JSON with the same writers as a job; the UI
only shows words and never writes a transcript itself.
"""

from __future__ import annotations

import threading
from pathlib import Path

from voxtune.engine import protocol as p
from voxtune.engine.types import Segment, Transcript, Word


class LiveTranscript:
    def __init__(self) -> None:
        self._words: list[Word] = []
        self._lock = threading.Lock()

    def observe(self, event: p.Event) -> None:
        if isinstance(event, p.LiveUpdate) and event.committed:
            with self._lock:
                self._words.extend(event.committed)

    def clear(self) -> None:
        with self._lock:
            self._words.clear()

    def transcript(self, model: str = "live") -> Transcript:
        """The committed words as one segment, as the subtitle writers want them."""
        with self._lock:
            words = tuple(self._words)
        if not words:
            return Transcript(segments=(), language=None, duration=0.0, model=model)
        text = "".join(w.text for w in words).strip()
        segment = Segment(start=words[0].start, end=words[-1].end, text=text, words=words)
        return Transcript(segments=(segment,), language=None, duration=words[-1].end, model=model)

    def save(self, command: p.SaveLive, model: str) -> p.LiveSaved:
        from voxtune.engine.subtitles.writer import write_outputs

        written = write_outputs(
            self.transcript(model), Path(command.output_dir), command.stem, command.formats,
            command.rules,
        )  # fmt: skip
        return p.LiveSaved(paths=tuple(str(path) for path in written), reply_to=command.seq)
