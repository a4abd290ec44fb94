"""Live transcription: re-decode a growing buffer, commit what consecutive decodes agree on.

Whisper is not a streaming model: it hears up to 30 s at once. So the live transcriber keeps
the audio of the current utterance in a buffer and decodes it again every step (about a
second of new audio), and a commit policy (LocalAgreement-2) decides which words are final.
Committed words in the buffer are the decoder's forced prefix, committed words before it
its prompt, and the last step's tentative words its draft, so a step pays token by token
only for what is new (a family's ``continuation.py``). The buffer is cut at committed sentence ends
and at pauses, so each step's cost and the memory held stay bounded however long the
session runs; VAD keeps silence out of it altogether. When an utterance ends, its last
seconds stay in the buffer (the silence after them dropped), so the next utterance is heard
with what came before it, as offline (``held_audio.py``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np

from voxtune.engine.audio.sources import AudioSource
from voxtune.engine.models import LoadedModel
from voxtune.engine.stream.decoders import Hypothesis, StreamDecoder, make_continuation_decoder
from voxtune.engine.stream.held_audio import HeldAudio
from voxtune.engine.stream.memory import release_freed_memory
from voxtune.engine.stream.policy import CommitPolicy, LocalAgreement
from voxtune.engine.stream.speech import FRAME_SECONDS, SpeechDetector
from voxtune.engine.stream.updates import StreamingOptions, StreamUpdate
from voxtune.engine.types import Word

SAMPLE_RATE = 16000
SENTENCE_END = (".", "?", "!", "。", "？", "！")
PAUSE_SECONDS = 0.5  # a gap this long between committed words is a place to cut
PIECE_SECONDS = 0.25  # audio handed over at once is walked through in pieces this long
CONTEXT_PAUSE_SECONDS = 0.3  # silence kept after an utterance heard again as context


class StreamingTranscriber:
    """Feed it audio as it arrives; it returns updates when the text changed.

    One instance per live session. ``run(source)`` drives it from an ``AudioSource``;
    ``feed``/``finish`` let a caller push audio itself.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        options: StreamingOptions | None = None,
        *,
        policy: CommitPolicy | None = None,
        speech: SpeechDetector | None = None,
        clock: Callable[[], float] = time.time,
        aligner: LoadedModel | None = None,
        decoder: StreamDecoder | None = None,
    ) -> None:
        # ``decoder``: one a ReadyModel built; else the one ``loaded``'s family gives.
        self.options = options or StreamingOptions()
        self.decoder = decoder or make_continuation_decoder(
            loaded, self.options.transcription, aligner
        )
        self.policy = policy or LocalAgreement(self.options.agreement, self.options.commit_margin)
        self.speech = speech or SpeechDetector(self.options.vad_threshold)
        self.clock = clock
        self._held = HeldAudio()
        # The end of the audio kept from earlier utterances as context (0: none kept).
        self._context_end = 0.0
        self._received = 0  # samples heard in all
        self._decoded_upto = 0  # _received when the last decode began
        self._speech_frames = 0  # speech frames in the current utterance (or burst)
        self._speech_began = 0.0  # absolute start of its first speech frame
        self._last_speech = -1.0  # absolute end of the latest speech frame
        self._committed_tokens: list[tuple[int, ...]] = []  # beside policy.committed
        self._tentative_tokens: tuple[tuple[int, ...], ...] = ()
        self._prefix_from = 0  # first committed word whose audio is still in the buffer
        self._partial: tuple[Word, ...] = ()
        self.decodes = 0
        self.decode_seconds = 0.0
        self.peak_buffer_seconds = 0.0

    # -- public -------------------------------------------------------------------------------
    @property
    def committed(self) -> tuple[Word, ...]:
        return self.policy.committed

    @property
    def audio_time(self) -> float:
        return self._received / SAMPLE_RATE

    @property
    def buffer_seconds(self) -> float:
        """Seconds of audio the next decode hears (context from earlier utterances included)."""
        return self._held.seconds

    @property
    def buffer_start(self) -> float:
        return self._held.start

    @property
    def context_seconds(self) -> float:
        """How much of what is held was kept from earlier utterances."""
        return self._held.seconds_before(self._context_end)

    def run(self, source: AudioSource, read_timeout: float = 0.1) -> Iterator[StreamUpdate]:
        """Updates until the source ends (the caller starts and stops it)."""
        while (audio := source.read(read_timeout)) is not None:
            if audio.size:
                yield from self._feed(audio)
        yield from self.finish()

    def feed(self, audio: np.ndarray) -> list[StreamUpdate]:
        """Take new audio; decode if a step's worth has come (or an utterance has ended)."""
        return list(self._feed(audio))

    def _feed(self, audio: np.ndarray) -> Iterator[StreamUpdate]:
        # A caller that fell behind may hand over many seconds at once: they are walked
        # through in short pieces, so utterance ends fall where they were spoken, but decoded
        # once at the end (besides utterance ends), so a slow machine catches up instead of
        # falling further behind.
        audio = np.asarray(audio, dtype=np.float32)
        piece = int(PIECE_SECONDS * SAMPLE_RATE)
        for first in range(0, len(audio), piece):
            yield from self._take(audio[first : first + piece])
        due = self._received - self._decoded_upto >= self.options.step_seconds * SAMPLE_RATE
        if self._in_utterance() and due:
            yield from self._step()

    def finish(self) -> list[StreamUpdate]:
        """The audio has ended: decode what is left, commit everything, say so."""
        newly: tuple[Word, ...] = ()
        if self._in_utterance() and self._received > self._decoded_upto:
            newly = self._commit(self._decode())
        update = self._update(newly + self._flush(), final=True)
        return [update] if update else []

    # -- speech and silence ---------------------------------------------------------------
    def _take(self, audio: np.ndarray) -> list[StreamUpdate]:
        self._held.append(audio, self._received)
        self._received += len(audio)
        self._hear(self.speech.feed(audio))
        if not self._in_utterance():
            self._drop_silence()
            return []
        if self.audio_time - self._last_speech >= self.options.end_of_speech_seconds:
            return self._end_utterance()
        if self.buffer_seconds >= self.options.max_buffer_seconds:
            return self._step()  # a window holds 30 s: decode (and cut) before it overflows
        return []

    def _hear(self, probabilities: np.ndarray) -> None:
        speech = np.flatnonzero(self.speech.is_speech(probabilities))
        if speech.size == 0:
            return
        first_frame = self.speech.frames_seen - len(probabilities)
        if self._speech_frames == 0:
            self._speech_began = (first_frame + int(speech[0])) * FRAME_SECONDS
        self._speech_frames += speech.size
        self._last_speech = (first_frame + int(speech[-1]) + 1) * FRAME_SECONDS

    def _in_utterance(self) -> bool:
        return self._speech_frames * FRAME_SECONDS >= self.options.min_speech_seconds

    def _drop_silence(self) -> None:
        """Outside speech keep only the pre-roll (and forget a burst too short to be speech)."""
        if self.audio_time - self._last_speech > self.options.end_of_speech_seconds:
            self._speech_frames = 0
        keep_from = self.audio_time if self._speech_frames == 0 else self._speech_began
        if self._context_end:  # the context kept from the utterance before stays
            self._held.remove(self._context_end, keep_from - self.options.preroll_seconds)
        else:
            self._cut(keep_from - self.options.preroll_seconds)

    def _end_utterance(self) -> list[StreamUpdate]:
        """Speech stopped: what the last decode says is final; its end is kept as context."""
        newly = self._commit(self._decode())
        update = self._update(newly + self._flush())
        self._speech_frames = 0
        self.speech.forget()
        self._keep_context()
        self._drop_silence()
        release_freed_memory()
        return [update] if update else []

    # -- decoding and committing ----------------------------------------------------------
    def _step(self) -> list[StreamUpdate]:
        newly = self._commit(self._decode())
        updates = [self._update(newly), self._trim()]
        return [u for u in updates if u is not None]

    def _decode(self) -> Hypothesis:
        self._decoded_upto = self._received
        self.peak_buffer_seconds = max(self.peak_buffer_seconds, self.buffer_seconds)
        prompt_from = max(0, self._prefix_from - self.options.prompt_words)
        hypothesis = self.decoder.decode(
            self._held.audio(),
            0.0,
            prompt=[t for w in self._committed_tokens[prompt_from : self._prefix_from] for t in w],
            prefix=[t for w in self._committed_tokens[self._prefix_from :] for t in w],
            draft=[t for w in self._tentative_tokens for t in w],
        )
        self.decodes += 1
        self.decode_seconds += hypothesis.seconds
        spoken = self._held.spoken_at
        words = tuple(
            replace(w, start=spoken(w.start), end=max(spoken(w.start), spoken(w.end)))
            for w in hypothesis.words
        )
        return replace(hypothesis, words=words)

    def _commit(self, hypothesis: Hypothesis) -> tuple[Word, ...]:
        heard_until = self._decoded_upto / SAMPLE_RATE
        newly = self.policy.update(hypothesis.words, heard_until)
        self._committed_tokens += hypothesis.word_tokens[: len(newly)]
        self._tentative_tokens = hypothesis.word_tokens[len(newly) :]
        return newly

    def _flush(self) -> tuple[Word, ...]:
        rest = self.policy.flush()
        self._committed_tokens += self._tentative_tokens[: len(rest)]
        self._tentative_tokens = ()
        return rest

    def _update(self, newly: tuple[Word, ...], final: bool = False) -> StreamUpdate | None:
        partial = self.policy.tentative
        changed = bool(newly) or [w.text for w in partial] != [w.text for w in self._partial]
        self._partial = partial
        if not (changed or final):
            return None
        return StreamUpdate(
            committed=newly,
            partial=partial,
            audio_time=self._decoded_upto / SAMPLE_RATE,
            emitted_at=self.clock(),
            final=final,
        )

    # -- bounding the buffer --------------------------------------------------------------
    def _trim(self) -> StreamUpdate | None:
        """Cut the buffer at a committed sentence end or pause once it grows long."""
        if self.buffer_seconds <= self.options.trim_seconds:
            return None
        inside = self.policy.committed[self._prefix_from :]
        cuts = [word.end for word in inside if word.text.rstrip().endswith(SENTENCE_END)]
        cuts += [a.end for a, b in itertools.pairwise(inside) if b.start - a.end >= PAUSE_SECONDS]
        if cuts:
            self._cut(max(cuts))
            release_freed_memory()
            return None
        if self.buffer_seconds < self.options.max_buffer_seconds:
            return None
        update = None
        if not inside:  # nothing agreed on for most of a window: take the hypothesis as it is
            update = self._update(self._flush())
            inside = self.policy.committed[self._prefix_from :]
        self._cut(inside[-1].end if inside else self.audio_time)
        return update

    def _keep_context(self) -> None:
        """Keep the end of the utterance just committed to be heard with the next one.

        Offline, VAD cuts pauses short and the decoder hears each sentence with the ones
        around it; an utterance decoded alone reads worse (200 IVR prompts, tiny.en: live
        committed WER 9.0 % heard alone, 8.0 % with this context, offline 8.3 %). Its
        committed words become the next decode's prefix: one forward pass, not a search.
        """
        inside = self.policy.committed[self._prefix_from :]
        seconds = self.options.context_seconds
        if seconds <= 0 or not inside:
            self._context_end = 0.0
            return
        self._context_end = min(self.audio_time, inside[-1].end + CONTEXT_PAUSE_SECONDS)
        # Cut at a word's end: the earliest that leaves at most ``seconds`` held.
        cuts = [w.end for w in inside if self._context_end - w.end <= seconds]
        self._cut(min(cuts) if cuts else self._context_end)

    def _cut(self, at: float) -> None:
        self._held.cut(at)
        if self._held.samples == 0:
            self._context_end = 0.0
        committed = self.policy.committed
        while self._prefix_from < len(committed) and committed[self._prefix_from].end <= at:
            self._prefix_from += 1
