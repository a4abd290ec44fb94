"""write_outputs: real files, written atomically, with one-line errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from test_subtitles_formats import sample_transcript

from voxtune.engine.errors import OutputError, VoxtuneError
from voxtune.engine.subtitles import (
    FORMATS,
    SubtitleRules,
    to_json,
    to_srt,
    to_txt,
    to_vtt,
    transcript_from_json,
    write_outputs,
)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_every_format(tmp_path: Path) -> None:
    transcript = sample_transcript()
    out = tmp_path / "new" / "folder"  # created on demand
    paths = write_outputs(transcript, out, "call", FORMATS)
    assert paths == [out / "call.srt", out / "call.vtt", out / "call.txt", out / "call.json"]
    assert paths[0].read_text(encoding="utf-8") == to_srt(transcript)
    assert paths[1].read_text(encoding="utf-8") == to_vtt(transcript)
    assert paths[2].read_text(encoding="utf-8") == to_txt(transcript)
    assert paths[3].read_text(encoding="utf-8") == to_json(transcript)
    assert transcript_from_json(paths[3].read_text(encoding="utf-8")) == transcript
    assert leftovers(out) == []


def test_formats_are_matched_loosely_and_once(tmp_path: Path) -> None:
    paths = write_outputs(sample_transcript(), tmp_path, "call", ["SRT", ".txt", "srt"])
    assert paths == [tmp_path / "call.srt", tmp_path / "call.txt"]
    assert write_outputs(sample_transcript(), tmp_path, "one", "vtt") == [tmp_path / "one.vtt"]


def test_rules_shape_the_subtitle_files(tmp_path: Path) -> None:
    rules = SubtitleRules(max_line_chars=10, max_lines=1)
    (path,) = write_outputs(sample_transcript(), tmp_path, "narrow", ["srt"], rules)
    assert path.read_text(encoding="utf-8") == to_srt(sample_transcript(), rules)


def test_an_unknown_format_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(VoxtuneError) as caught:
        write_outputs(sample_transcript(), tmp_path, "call", ["srt", "docx"])
    assert str(caught.value) == "unknown output format 'docx' (valid formats: srt, vtt, txt, json)"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stem", ["", "..", "sub/call", "/abs/call"])
def test_an_output_name_must_be_a_file_name(tmp_path: Path, stem: str) -> None:
    with pytest.raises(VoxtuneError) as caught:
        write_outputs(sample_transcript(), tmp_path, stem, ["txt"])
    assert str(caught.value) == f"output name {stem!r} must be a plain file name, not a path"
    assert list(tmp_path.iterdir()) == []


def test_an_output_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("keep me", encoding="utf-8")
    with pytest.raises(OutputError) as caught:
        write_outputs(sample_transcript(), not_a_folder, "call", ["srt"])
    message = str(caught.value)
    assert message == f"{not_a_folder}: cannot write outputs there (it is a file, not a folder)"
    assert not_a_folder.read_text(encoding="utf-8") == "keep me"
    assert leftovers(tmp_path) == []


def test_a_failing_write_raises_output_error_and_leaves_no_temp_file(tmp_path: Path) -> None:
    # A folder squatting on the target's name makes the final rename fail, even for root.
    (tmp_path / "call.srt").mkdir()
    with pytest.raises(OutputError) as caught:
        write_outputs(sample_transcript(), tmp_path, "call", ["txt", "srt"])
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'call.srt'}: cannot write (")
    assert "\n" not in message
    assert leftovers(tmp_path) == []
    assert (tmp_path / "call.srt").is_dir()
    assert (tmp_path / "call.txt").read_text(encoding="utf-8") == to_txt(sample_transcript())


def test_a_folder_inside_a_file_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(OutputError) as caught:
        write_outputs(sample_transcript(), blocker / "out", "call", ["json"])
    assert str(caught.value).startswith(f"{blocker / 'out' / 'call.json'}: cannot write (")
    assert "\n" not in str(caught.value)
    assert leftovers(tmp_path) == []


def test_an_existing_output_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "call.txt"
    target.write_text("old line that is much longer than the new text\n" * 2000, encoding="utf-8")
    old_inode = target.stat().st_ino
    write_outputs(sample_transcript(), tmp_path, "call", ["txt"])
    assert target.read_text(encoding="utf-8") == to_txt(sample_transcript())
    # Replaced by rename, not rewritten in place: a reader never saw a half-written file.
    assert target.stat().st_ino != old_inode
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_new_outputs_follow_the_umask(tmp_path: Path, umask: int) -> None:
    """Issue 19 item 7: mkstemp alone made every output 0600 (a media server could not read)."""
    old = os.umask(umask)
    try:
        paths = write_outputs(sample_transcript(), tmp_path / "out", "call", FORMATS)
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths} == {0o666 & ~umask}


def test_an_overwritten_output_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "call.srt"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    old = os.umask(0o077)
    try:
        write_outputs(sample_transcript(), tmp_path, "call", ["srt"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text(encoding="utf-8") == to_srt(sample_transcript())
