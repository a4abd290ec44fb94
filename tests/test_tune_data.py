"""Tuning data: every layout read, every bad row reported with its row, split and batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from tune_factory import jargon_sentences, speak, write_folder_dataset

from voxtune.engine.audio import decode_audio
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.batching import bucketed_batches, split_rows
from voxtune.engine.tune.datasets import read_dataset
from voxtune.engine.tune.report import word_diff
from voxtune.engine.tune.validation import bad_rows_error, check_rows


def count_words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return speak(jargon_sentences(6, seed=7), tmp_path_factory.mktemp("spoken"), seed=7)


def write_wav(path: Path, audio: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_folder_of_audio_with_transcripts(spoken, tmp_path: Path) -> None:
    folder = write_folder_dataset(spoken, tmp_path / "set")
    rows = read_dataset(folder)
    assert [r.text for r in rows] == [s.text for s in sorted(spoken, key=lambda s: s.audio.name)]
    good, bad = check_rows(rows, count_words, 100)
    assert len(good) == len(spoken) and bad == []
    assert all(1.0 < g.seconds < 10.0 for g in good)


def test_csv_tsv_jsonl_and_audiofolder_give_the_same_rows(spoken, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(
        "audio,text,language\n" + "".join(f'{s.audio},"{s.text}",en\n' for s in spoken),
        encoding="utf-8",
    )
    (tmp_path / "data.tsv").write_text(
        "path\ttranscription\n" + "".join(f"{s.audio}\t{s.text}\n" for s in spoken),
        encoding="utf-8",
    )
    (tmp_path / "data.jsonl").write_text(
        "".join(json.dumps({"audio": str(s.audio), "text": s.text}) + "\n" for s in spoken),
        encoding="utf-8",
    )
    folder = tmp_path / "audiofolder"
    folder.mkdir()
    lines = ["file_name,transcription"]
    for item in spoken:
        (folder / item.audio.name).write_bytes(item.audio.read_bytes())
        lines.append(f'{item.audio.name},"{item.text}"')
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    expected = [(s.audio.name, s.text) for s in spoken]
    for source in ("data.csv", "data.tsv", "data.jsonl", "audiofolder"):
        rows = read_dataset(tmp_path / source)
        assert [(r.audio.name, r.text) for r in rows] == expected, source
        assert all(r.audio.is_file() for r in rows)
    assert {r.language for r in read_dataset(tmp_path / "data.csv")} == {"en"}
    assert read_dataset(tmp_path / "data.csv")[2].where == "data.csv: row 4"


def test_every_bad_row_is_reported_with_its_row(spoken, tmp_path: Path, english_dev) -> None:
    long_audio = np.tile(decode_audio(english_dev[0].path), 4)[: 16000 * 31]
    write_wav(tmp_path / "long.wav", long_audio)
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wav file at all")
    good = spoken[0]
    rows = [
        f"{good.audio},{good.text}",
        f"{tmp_path / 'missing.wav'},some words",
        f"{spoken[1].audio},",
        f"{tmp_path / 'broken.wav'},some words",
        f"{tmp_path / 'long.wav'},a long recording",
        f"{spoken[2].audio},{' '.join(['word'] * 50)}",
    ]
    manifest = tmp_path / "data.csv"
    manifest.write_text("audio,text\n" + "\n".join(rows) + "\n", encoding="utf-8")

    checked, bad = check_rows(read_dataset(manifest), count_words, 40)

    assert [c.row.text for c in checked] == [good.text]
    problems = {b.where: b.problem for b in bad}
    assert problems["data.csv: row 3"] == f"audio {tmp_path / 'missing.wav'} not found"
    assert problems["data.csv: row 4"] == "empty transcript"
    assert problems["data.csv: row 5"].startswith("audio cannot be decoded")
    assert problems["data.csv: row 6"] == "audio too long (31.0 s; the model takes at most 30 s)"
    assert problems["data.csv: row 7"] == "transcript too long (50 tokens; at most 40)"
    message = str(bad_rows_error(str(manifest), bad))
    assert message.startswith(f"{manifest}: 5 bad rows: data.csv: row 3: audio ")
    assert message.endswith("(and 2 more)") and "\n" not in message


def test_folder_audio_without_transcript_is_a_bad_row(spoken, tmp_path: Path) -> None:
    folder = write_folder_dataset(spoken[:2], tmp_path / "set")
    (folder / spoken[0].audio.name).with_suffix(".txt").unlink()
    _, bad = check_rows(read_dataset(folder), count_words, 100)
    # Issue 19 item 8: it was reported as an empty transcript, which sends one looking inside
    # a file that does not exist.
    txt = spoken[0].audio.with_suffix(".txt").name
    assert [str(b) for b in bad] == [f"{spoken[0].audio.name}: transcript {txt} not found"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data.csv", "file,words\nx.wav,hello\n", "header needs an audio column"),
        ("data.jsonl", '{"audio": "a.wav", "text": "hi"}\n[1, 2]\n', "row 2: not a JSON object"),
        ("data.tsv", "path\ttext\n", "data set has no rows"),
        ("data.txt", "hello", "not a data set (a folder, .csv, .tsv or .jsonl)"),
    ],
)
def test_unreadable_data_sets_name_the_file(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(VoxtuneError, match="^" + str(tmp_path / name).replace("\\", "\\\\")) as e:
        read_dataset(tmp_path / name)
    assert message in str(e.value)
    with pytest.raises(VoxtuneError, match="data set not found"):
        read_dataset(tmp_path / "nothing.csv")
    empty = tmp_path / "empty-folder"
    empty.mkdir(exist_ok=True)
    with pytest.raises(VoxtuneError, match="no audio files"):
        read_dataset(empty)


def test_split_is_seeded_and_disjoint() -> None:
    rows = list(range(100))
    train, validation = split_rows(rows, 0.2, seed=3)
    assert len(validation) == 20 and sorted(train + validation) == rows
    assert split_rows(rows, 0.2, seed=3) == (train, validation)
    assert split_rows(rows, 0.2, seed=4)[1] != validation
    assert split_rows(rows[:3], 0.01, seed=0)[1] != []  # at least one validation row
    assert split_rows(rows, 0.0, seed=0) == (rows, [])


def test_batches_group_similar_lengths_and_cover_every_row() -> None:
    rng = np.random.default_rng(0)
    lengths = [int(x) for x in rng.integers(5, 200, size=1000)]
    batches = bucketed_batches(lengths, 16, seed=1, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert all(len(b) <= 16 for b in batches)
    padding = sum(16 * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)
    shuffled = [list(range(s, min(s + 16, 1000))) for s in range(0, 1000, 16)]
    random_padding = sum(
        16 * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in shuffled
    )
    assert padding < random_padding / 5
    assert bucketed_batches(lengths, 16, seed=1, epoch=0) == batches
    assert bucketed_batches(lengths, 16, seed=1, epoch=1) != batches


def test_word_diff_marks_missed_and_inserted_words() -> None:
    diff = word_diff(
        "deploy kafka before you restart prometheus", "the boy calf can before you restart"
    )
    # jiwer's alignment, the one WER counts: 2 inserted, 2 substituted, 1 deleted of 6 words.
    assert diff == "{+the boy+} [-deploy kafka-] {+calf can+} before you restart [-prometheus-]"


def test_events_and_config_import_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, voxtune.engine.tune, voxtune.engine.tune.events, voxtune.engine.tune.config;"
        "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def finetune(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxtune.app", "finetune", *args],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TQDM_DISABLE": "1"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--max-steps", "0"], "--max-steps must be at least 1"),
     (["--max-steps", "-3"], "--max-steps must be at least 1"),
     (["--batch-size", "0"], "batch sizes must be > 0")],
)  # fmt: skip
def test_steps_and_batch_size_below_one_are_refused(
    tmp_path: Path, option: list[str], message: str
) -> None:
    """Issue 19 item 8: --batch-size 0 meant "the default", --max-steps 0 was accepted."""
    result = finetune("--data", str(tmp_path), "--out", str(tmp_path / "out"), *option)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"voxtune: error: finetune: {message}"


def test_no_usable_rows_says_why(spoken, tiny_whisper: Path, tmp_path: Path) -> None:
    folder = write_folder_dataset(spoken[:3], tmp_path / "set")
    for item in spoken[:3]:
        (folder / item.audio.name).with_suffix(".txt").unlink()
    result = finetune("--base", str(tiny_whisper), "--data", str(folder), "--out",
                      str(tmp_path / "out"), "--max-steps", "1")  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"voxtune: error: {folder}: no usable training rows: ")
    assert f"transcript {spoken[0].audio.with_suffix('.txt').name} not found" in last


def test_no_validation_rows_left_is_refused(spoken, tiny_whisper: Path, tmp_path: Path) -> None:
    """One usable row of four: it would train with nothing to validate on, silently."""
    folder = write_folder_dataset(spoken[:4], tmp_path / "set")
    for item in spoken[1:4]:
        (folder / item.audio.name).with_suffix(".txt").unlink()
    result = finetune("--base", str(tiny_whisper), "--data", str(folder), "--out",
                      str(tmp_path / "out"), "--max-steps", "1")  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"voxtune: error: {folder}: no usable validation rows (1 usable training rows; 3 rows "
        "were skipped); fix the rows, add data, or pass --validation-fraction 0"
    )
    assert not (tmp_path / "out" / "adapter").exists()


def test_eval_and_finetune_read_one_manifest_either_way(spoken, tmp_path: Path) -> None:
    """Issue 15: eval took path/reference (or no header), finetune audio/text; both take all."""
    from voxtune.engine.evaluation import read_manifest

    lines = [f"{s.audio}\t{s.text}" for s in spoken[:3]]
    layouts = {
        "audio-text.tsv": "audio\ttext\n" + "\n".join(lines) + "\n",
        "path-reference.tsv": "path\treference\tlanguage\n"
        + "\n".join(f"{line}\ten" for line in lines)
        + "\n",
        "headerless.tsv": "\n".join(lines) + "\n",
    }
    for name, content in layouts.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        rows = read_dataset(tmp_path / name)
        assert [(r.audio, r.text) for r in rows] == [(s.audio, s.text) for s in spoken[:3]]
        scored = read_manifest(tmp_path / name)
        assert [(r.audio, r.reference) for r in scored] == [(s.audio, s.text) for s in spoken[:3]]
    assert read_manifest(tmp_path / "path-reference.tsv")[0].language == "en"
    (tmp_path / "one-column.tsv").write_text(f"{spoken[0].audio}\n", encoding="utf-8")
    with pytest.raises(VoxtuneError, match="line 1: expected audio path, a tab, reference text"):
        read_manifest(tmp_path / "one-column.tsv")
