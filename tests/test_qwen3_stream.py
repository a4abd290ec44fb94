"""Qwen3-ASR live: the continuation decoder (prefix, draft, times) and ``voxtune live``.

The models are tiny. The random one writes one word over and over, so its text means nothing;
with it what is checked is that the committed prefix is forced and continued exactly as
transformers' own ``generate`` continues it, that a draft is verified rather than trusted,
and that times stay inside the buffer and never go back. The scripted one (a bigram model)
always answers ``language English<asr_text> the quick brown fox…``: with it, that a prefix
is never written again, that the language is detected once and kept, and that a live session
commits each word exactly once.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import Utterance
from qwen3_factory import build_scripted_qwen3_asr

from voxtune.engine.audio import decode_audio
from voxtune.engine.errors import ModelError, VoxtuneError
from voxtune.engine.families.qwen3_asr.continuation import Qwen3ContinuationDecoder
from voxtune.engine.models import LoadedModel, load_model
from voxtune.engine.stream.decoders import Hypothesis, make_continuation_decoder
from voxtune.engine.types import TranscriptionOptions, Word

RATE = 16000
OFFSET = 2.0  # the buffer's first sample, 2 s into the session
GREEDY = TranscriptionOptions(language="en", beam_size=1, vad=False)
SCRIPT = " the quick brown fox jumps over lazy dog"


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_scripted_qwen3_asr(tmp_path_factory.mktemp("qwen3") / "scripted", SCRIPT)


@pytest.fixture(scope="module")
def loaded(tiny_asr: Path) -> LoadedModel:
    return load_model(str(tiny_asr))


@pytest.fixture(scope="module")
def prompt(ivr_set: list[Utterance]) -> Utterance:
    return next(u for u in ivr_set if "agent number" in u.reference)


@pytest.fixture(scope="module")
def buffer(prompt: Utterance) -> np.ndarray:
    return decode_audio(prompt.path)[: 3 * RATE]


def check_words(hypothesis: Hypothesis, start: float, end: float) -> None:
    """Words inside [start, end], in order, each with its tokens and a probability."""
    words = hypothesis.words
    assert words and len(words) == len(hypothesis.word_tokens)
    assert all(tokens for tokens in hypothesis.word_tokens)
    assert all(w.text.strip() for w in words)
    assert all(start <= w.start <= w.end <= end + 1e-9 for w in words)
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(words))
    assert all(0.0 < w.confidence <= 1.0 for w in words)


def reference_continuation(loaded: LoadedModel, audio: np.ndarray, prefix: list[int], n: int):  # type: ignore[no-untyped-def]
    """What transformers' own greedy ``generate`` writes after the prefix (language forced)."""
    import torch

    inputs = loaded.processor.apply_transcription_request(audio=[audio], language="English")
    ids = torch.cat([inputs["input_ids"], torch.tensor([prefix], dtype=torch.long)], dim=1)
    with torch.inference_mode():
        out = loaded.model.generate(
            input_ids=ids,
            input_features=inputs["input_features"],
            input_features_mask=inputs["input_features_mask"],
            do_sample=False,
            max_new_tokens=n,
        )
    return out[0, ids.shape[1] :].tolist()


def test_the_prefix_is_forced_and_continued_never_written_again(
    loaded: LoadedModel, buffer: np.ndarray
) -> None:
    decoder = Qwen3ContinuationDecoder(loaded, GREEDY)
    end = OFFSET + len(buffer) / RATE
    first = decoder.decode(buffer, OFFSET)
    check_words(first, OFFSET, end)
    assert first.draft_accepted == 0 and first.generated == len(first.tokens)
    assert first.tokens == reference_continuation(loaded, buffer, [], len(first.tokens))

    # The stream committed the first three words: the next hypothesis is what comes after
    # them (the same tokens the model wrote on), timed after the last of them.
    committed = [t for word in first.word_tokens[:3] for t in word]
    after = decoder.decode(buffer, OFFSET, prefix=committed)
    check_words(after, first.words[2].end, end)
    # (the token allowance counts new tokens only, and a random model never stops early)
    assert after.tokens[: len(first.tokens) - len(committed)] == first.tokens[len(committed) :]

    # A prefix the model would not have written itself is forced all the same: what follows
    # is exactly transformers' continuation of it, and it does not come back as new words.
    forced = loaded.processor.tokenizer.encode(" press one followed by", add_special_tokens=False)
    fresh = Qwen3ContinuationDecoder(loaded, GREEDY)
    hypothesis = fresh.decode(buffer, OFFSET, prefix=forced)
    check_words(hypothesis, OFFSET, end)
    n = len(hypothesis.tokens)
    assert hypothesis.tokens == reference_continuation(loaded, buffer, forced, n)
    assert hypothesis.tokens[: len(forced)] != forced


def test_words_after_the_prefix_are_the_rest_of_the_answer_timed_after_it(
    scripted: Path, buffer: np.ndarray
) -> None:
    decoder = Qwen3ContinuationDecoder(load_model(str(scripted)), GREEDY)
    end = OFFSET + len(buffer) / RATE
    first = decoder.decode(buffer, OFFSET)
    check_words(first, OFFSET, end)
    assert "".join(w.text for w in first.words) == SCRIPT
    assert first.generated == len(first.tokens)  # it stopped by itself, well within allowance
    committed = [t for word in first.word_tokens[:3] for t in word]
    after = decoder.decode(buffer, OFFSET, prefix=committed, draft=first.tokens[len(committed) :])
    assert [w.text for w in after.words] == [w.text for w in first.words[3:]]
    assert after.draft_accepted == len(first.tokens) - len(committed) and after.generated == 0
    check_words(after, first.words[2].end, end)
    # Everything said and committed: nothing is left to say.
    done = decoder.decode(buffer, OFFSET, prefix=first.tokens)
    assert done.words == () and done.tokens == []


def test_the_language_is_detected_once_and_then_kept(scripted: Path, buffer: np.ndarray) -> None:
    decoder = Qwen3ContinuationDecoder(load_model(str(scripted)), replace(GREEDY, language=None))
    assert decoder.language is None
    first = decoder.decode(buffer, OFFSET)
    assert decoder.language == "en"  # "language English" was the model's own header
    assert "".join(w.text for w in first.words) == SCRIPT  # the header is not a word
    again = decoder.decode(buffer, OFFSET, prefix=first.word_tokens[0])
    assert "".join(w.text for w in again.words) == SCRIPT.removeprefix(" the")
    assert decoder.language == "en"


def test_a_model_that_hears_no_language_gives_no_words(tmp_path: Path, buffer: np.ndarray) -> None:
    silent = build_scripted_qwen3_asr(tmp_path / "none", SCRIPT, language="None")
    decoder = Qwen3ContinuationDecoder(load_model(str(silent)), replace(GREEDY, language=None))
    hypothesis = decoder.decode(buffer, OFFSET)
    assert hypothesis.words == () and hypothesis.no_speech_prob == 1.0
    assert decoder.language is None  # "None" is no language to keep


@pytest.mark.parametrize("language", ["en", None])
def test_a_draft_the_model_agrees_with_is_accepted_in_one_pass(
    loaded: LoadedModel, buffer: np.ndarray, language: str | None
) -> None:
    decoder = Qwen3ContinuationDecoder(loaded, replace(GREEDY, language=language))
    first = decoder.decode(buffer, OFFSET)
    again = decoder.decode(buffer, OFFSET, draft=first.tokens)
    assert [w.text for w in again.words] == [w.text for w in first.words]
    assert again.word_tokens == first.word_tokens
    assert again.draft_accepted == len(first.tokens) > 0
    assert again.generated == 0
    for before, now in zip(first.words, again.words, strict=True):
        assert math.isclose(before.confidence, now.confidence, rel_tol=1e-3)

    # A draft is checked, not trusted: a wrong token ends what is accepted, and the model's
    # own words come back after it.
    wrong = loaded.processor.tokenizer.encode(" fox", add_special_tokens=False)[0]
    assert wrong != first.tokens[2]
    draft = [*first.tokens[:2], wrong, *first.tokens[3:]]
    checked = decoder.decode(buffer, OFFSET, draft=draft)
    assert checked.draft_accepted == 2
    assert checked.tokens == first.tokens
    assert checked.generated == len(first.tokens) - 2


def test_beam_search_continues_the_prefix_too(
    loaded: LoadedModel, scripted: Path, buffer: np.ndarray
) -> None:
    end = OFFSET + len(buffer) / RATE
    decoder = Qwen3ContinuationDecoder(loaded, replace(GREEDY, beam_size=3))
    first = decoder.decode(buffer, OFFSET)
    check_words(first, OFFSET, end)
    committed = [t for word in first.word_tokens[:2] for t in word]
    after = decoder.decode(buffer, OFFSET, prefix=committed, draft=first.tokens[len(committed) :])
    check_words(after, first.words[1].end, end)
    assert after.draft_accepted > 0

    # The beams finish where the answer ends, and go on from a prefix without repeating it.
    decoder = Qwen3ContinuationDecoder(load_model(str(scripted)), replace(GREEDY, beam_size=3))
    first = decoder.decode(buffer, OFFSET)
    assert "".join(w.text for w in first.words) == SCRIPT
    after = decoder.decode(buffer, OFFSET, prefix=[t for w in first.word_tokens[:4] for t in w])
    assert [w.text for w in after.words] == [w.text for w in first.words[4:]]
    check_words(after, first.words[3].end, end)


def test_an_aligner_times_the_new_words_after_the_committed_ones(
    loaded: LoadedModel, tiny_aligner: Path, buffer: np.ndarray
) -> None:
    aligner = load_model(str(tiny_aligner))
    decoder = make_continuation_decoder(loaded, GREEDY, aligner)
    assert isinstance(decoder, Qwen3ContinuationDecoder) and decoder.aligner is not None
    first = decoder.decode(buffer, OFFSET)
    check_words(first, OFFSET, OFFSET + len(buffer) / RATE)
    committed = [t for word in first.word_tokens[:3] for t in word]
    longer = np.concatenate([buffer, buffer[: RATE // 2]])
    after = decoder.decode(longer, OFFSET, prefix=committed)
    check_words(after, first.words[2].end, OFFSET + len(longer) / RATE)


def test_the_family_picks_the_decoder_and_bad_requests_are_refused(
    loaded: LoadedModel, tiny_aligner: Path
) -> None:
    assert isinstance(make_continuation_decoder(loaded, GREEDY), Qwen3ContinuationDecoder)
    aligner = load_model(str(tiny_aligner))
    with pytest.raises(ModelError, match="does not transcribe"):
        make_continuation_decoder(aligner, GREEDY)
    with pytest.raises(VoxtuneError, match="language 'xx' is not one Qwen3-ASR knows"):
        make_continuation_decoder(loaded, replace(GREEDY, language="xx"))
    with pytest.raises(VoxtuneError, match="only transcribes"):
        make_continuation_decoder(loaded, replace(GREEDY, language=None, task="translate"))


# --- voxtune live ---------------------------------------------------------------------------


def voxtune(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxtune.app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def words_of(event: dict) -> list[Word]:
    return [Word(**w) for w in event["committed"]]


@pytest.mark.parametrize(
    "model", ["scripted", "random+aligner", "random"], ids=["scripted", "aligned", "estimated"]
)
def test_voxtune_live_streams_a_qwen3_model_and_commits_for_good(
    tiny_asr: Path, tiny_aligner: Path, scripted: Path, prompt: Utterance, model: str
) -> None:
    duration = len(decode_audio(prompt.path)) / RATE
    path = scripted if model == "scripted" else tiny_asr
    aligner = str(tiny_aligner) if model.endswith("aligner") else "none"
    result = voxtune(
        "live", "--model", str(path), "--file", str(prompt.path), "--speed", "0",
        "--aligner", aligner, "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    started, *updates, stopped = [json.loads(line) for line in result.stdout.splitlines()]
    assert started["event"] == "started" and stopped["event"] == "stopped"
    assert updates and {e["event"] for e in updates} == {"update"}
    assert updates[-1]["final"] and not any(e["final"] for e in updates[:-1])
    assert stopped["decodes"] >= 2  # it streamed: decoded the growing buffer more than once

    # Committed words are only ever appended: together they are the final text, in time order.
    committed = [w for e in updates for w in words_of(e)]
    assert committed, "a random model still writes words: some must be committed"
    assert "".join(w.text for w in committed).strip() == stopped["text"]
    assert all(0.0 <= w.start <= w.end <= duration + 0.05 for w in committed)
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(committed))
    assert all(0.0 < w.confidence <= 1.0 for w in committed)
    for event in updates:
        assert all(0.0 <= w["start"] <= w["end"] <= duration + 0.05 for w in event["partial"])
        # What is still provisional comes after everything committed so far.
        done = [w for e in updates[: updates.index(event) + 1] for w in words_of(e)]
        if done and event["partial"]:
            assert event["partial"][0]["start"] >= done[-1].end - 1e-6
    assert updates[-1]["partial"] == []
    if model == "scripted":
        # The model says its sentence once for each stretch of speech: each word was
        # committed once, none lost, none written again after it was committed.
        sentence = SCRIPT.strip()
        assert stopped["text"].count(sentence) >= 1
        assert stopped["text"].replace(sentence, "").strip() == ""


def test_voxtune_live_refuses_a_language_qwen3_does_not_know(
    tiny_asr: Path, prompt: Utterance
) -> None:
    result = voxtune(
        "live", "--model", str(tiny_asr), "--file", str(prompt.path), "--language", "xx"
    )  # fmt: skip
    assert result.returncode == 1
    # Refused up front, before the model loads, by the same check transcribe and batch use.
    assert result.stderr.strip().splitlines() == [
        "voxtune: error: --language 'xx': not a language code or name "
        "(for example en, de, en-US, english)"
    ]
