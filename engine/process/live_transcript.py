"""The live session's committed words, kept by the engine so that it writes the files.

``SaveLive`` writes them as SRT, VTT, TXT or JSON with the same writers as a job; the UI
only shows words and never writes a transcript itself. ``OpenLive`` hands them to the
transcript editor cut into sentences, and a ``SaveLive`` from the editor carries its
corrected segments, which are kept in place of the words heard until the next session.
"""

from __future__ import annotations

import threading
from pathlib import Path

from voxtune.engine import protocol as p
from voxtune.engine.subtitles.words import SENTENCE_END, ending_punctuation
from voxtune.engine.types import Segment, Transcript, Word

PAUSE_S = 1.0  # a silence this long between words starts a new segment in the editor
MAX_WORDS = 40  # nor does one segment run on past this many words without punctuation


def sentences(words: tuple[Word, ...] | list[Word]) -> tuple[Segment, ...]:
    """Words cut into segments after a sentence's end, a long pause or ``MAX_WORDS``."""
    segments: list[Segment] = []
    run: list[Word] = []
    for word in words:
        if run and (word.start - run[-1].end >= PAUSE_S or len(run) >= MAX_WORDS):
            segments.append(_segment(run))
            run = []
        run.append(word)
        if ending_punctuation(word.text) in SENTENCE_END:
            segments.append(_segment(run))
            run = []
    if run:
        segments.append(_segment(run))
    return tuple(segments)


def _segment(words: list[Word]) -> Segment:
    text = "".join(w.text for w in words).strip()
    return Segment(start=words[0].start, end=words[-1].end, text=text, words=tuple(words))


class LiveTranscript:
    def __init__(self) -> None:
        self._words: list[Word] = []
        self._edited: tuple[Segment, ...] | None = None
        self.file: str | None = None  # the file the session heard, for the editor's playback
        self._lock = threading.Lock()

    def observe(self, event: p.Event) -> None:
        if isinstance(event, p.LiveUpdate) and event.committed:
            with self._lock:
                self._words.extend(event.committed)

    def clear(self, file: str | None = None) -> None:
        with self._lock:
            self._words.clear()
            self._edited = None
            self.file = file

    def segments(self) -> tuple[Segment, ...]:
        """The editor's corrections if it saved some, else the words heard, as sentences."""
        with self._lock:
            return self._edited if self._edited is not None else sentences(self._words)

    def transcript(self, model: str = "live") -> Transcript:
        """The committed words as one segment, as the subtitle writers want them."""
        with self._lock:
            if self._edited is not None:
                segments = self._edited
            else:
                words = tuple(self._words)
                segments = (_segment(list(words)),) if words else ()
        end = max((s.end for s in segments), default=0.0)
        return Transcript(segments=segments, language=None, duration=end, model=model)

    def open(self, command: p.OpenLive, model: str) -> p.TranscriptOpened:
        segments = self.segments()
        end = max((s.end for s in segments), default=0.0)
        return p.TranscriptOpened(
            job_id=p.LIVE_TRANSCRIPT_ID,
            transcript=Transcript(segments=segments, language=None, duration=end, model=model),
            audio_path=self.file or "",
            edited=self._edited is not None,
            reply_to=command.seq,
        )

    def save(self, command: p.SaveLive, model: str) -> p.LiveSaved:
        from voxtune.engine.subtitles.writer import write_outputs

        if command.segments is not None:
            with self._lock:
                self._edited = tuple(sorted(command.segments, key=lambda s: (s.start, s.end)))
        written = write_outputs(
            self.transcript(model), Path(command.output_dir), command.stem, command.formats,
            command.rules,
        )  # fmt: skip
        return p.LiveSaved(paths=tuple(str(path) for path in written), reply_to=command.seq)
