"""The Whisper token ids a decoder needs, read from the tokenizer (never hard-coded).

English-only and multilingual checkpoints number their special tokens differently, so every
id here comes from the model's own tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass

# Scripts written without spaces between words: split words at unicode characters instead.
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})


@dataclass(frozen=True)
class SpecialTokens:
    eot: int
    sot: int
    sot_prev: int | None
    no_timestamps: int
    no_speech: int | None
    timestamp_begin: int
    transcribe: int | None
    translate: int | None
    language_ids: dict[str, int]  # "en" -> id of <|en|>; empty for English-only models

    @property
    def multilingual(self) -> bool:
        return bool(self.language_ids)

    def is_text(self, token: int) -> bool:
        return token < self.eot

    def is_timestamp(self, token: int) -> bool:
        return token >= self.timestamp_begin

    def sot_sequence(self, language: str | None, task: str) -> list[int]:
        ids = [self.sot]
        if self.multilingual:
            ids.append(self.language_ids[language or "en"])
            ids.append(self.translate if task == "translate" else self.transcribe)  # type: ignore[arg-type]
        return ids


def special_tokens(tokenizer, multilingual: bool) -> SpecialTokens:  # type: ignore[no-untyped-def]
    """English-only vocabularies hold the language tokens too, unused: ``multilingual`` says."""
    vocab = tokenizer.get_vocab()

    def find(*names: str) -> int | None:
        for name in names:
            if name in vocab:
                return vocab[name]
        return None

    def need(*names: str) -> int:
        token = find(*names)
        if token is None:
            raise ValueError(f"tokenizer has none of {names}")
        return token

    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    language_ids = {}
    if multilingual:
        language_ids = {c: vocab[f"<|{c}|>"] for c in LANGUAGES if f"<|{c}|>" in vocab}
    return SpecialTokens(
        eot=need("<|endoftext|>"),
        sot=need("<|startoftranscript|>"),
        sot_prev=find("<|startofprev|>"),
        no_timestamps=need("<|notimestamps|>"),
        no_speech=find("<|nospeech|>", "<|nocaptions|>"),
        timestamp_begin=need("<|0.00|>"),
        transcribe=find("<|transcribe|>"),
        translate=find("<|translate|>"),
        language_ids=language_ids,
    )
