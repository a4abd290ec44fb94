"""Live from a file in the Live tab, on the real engine: the file is played as the microphone,
and when the session stops its transcript opens in the transcript editor, which corrects it
and writes it again (SaveLive with the editor's segments)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import srt
from pytestqt.qtbot import QtBot

from voxtune.engine import protocol as p
from voxtune.engine.config import EngineConfig
from voxtune.engine.evaluation import normalize_text, word_error_rate
from voxtune.engine.types import Segment, Transcript, Word
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.editor_window import TranscriptEditor
from voxtune.ui.main_window import MainWindow
from voxtune.ui.settings import UiSettings, open_qsettings, save_settings

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-en.ogg"
REFERENCE = (
    "Many people don't think about them as dinosaurs because they have feathers and can fly."
)
LIVE_TIMEOUT_MS = 240_000  # the first session imports the embedded model; the machine is shared


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    store = open_qsettings(tmp_path / "settings.ini")
    save_settings(store, UiSettings(output_dir=str(tmp_path / "out"), beam_size=1))
    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), threads=1))
    window = MainWindow(bridge, store, log_folder=tmp_path / "logs")
    qtbot.addWidget(window)
    bridge.start()
    window.show()
    yield window
    window.close()


def test_live_from_a_file_opens_in_the_editor_and_saves_corrections(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    tab, bridge = window.live_tab, window.bridge
    window.tabs.setCurrentWidget(tab)
    tab.use_file(DEMO)
    assert not tab.device_box.isEnabled() and tab.speed_box.isEnabled()
    tab.speed_box.setCurrentIndex(tab.speed_box.findText("4×"))
    started: list[str] = []
    bridge.live_started.connect(started.append)
    with qtbot.waitSignal(bridge.live_stopped, timeout=LIVE_TIMEOUT_MS) as stopped:
        tab.toggle()
    assert stopped.args == [None]
    assert started == [str(DEMO)]  # the engine played the file, not a microphone
    assert "feathers" in tab.view.text()

    qtbot.waitUntil(lambda: p.LIVE_TRANSCRIPT_ID in window.editors, timeout=30_000)
    editor = window.editors[p.LIVE_TRANSCRIPT_ID]
    assert editor.isVisible() and editor.audio_path == str(DEMO)
    segments = editor.model.segments()
    heard = " ".join(s.text for s in segments)
    # Streaming a 4 s clip with the tiny model is rough ("dinosaurs" came out "a nurse or as").
    assert word_error_rate([normalize_text(REFERENCE)], [normalize_text(heard)]) < 0.5
    assert normalize_text(heard) == normalize_text(tab.view.text())
    # Times are the file's own (played at 4×, still in seconds of audio), in order.
    starts = [w.start for s in segments for w in s.words]
    assert starts == sorted(starts) and starts[0] >= 0 and segments[-1].end <= 4.5

    assert editor.replace_all("feathers", "plumes") == 1
    with qtbot.waitSignal(editor.saved, timeout=30_000) as saved:
        editor.save()
    out = tmp_path / "out"
    written = {Path(path).name for path in saved.args[0]}
    assert "demo-en-live.srt" in written
    cues = list(srt.parse((out / "demo-en-live.srt").read_text()))
    subtitles = " ".join(c.content for c in cues)
    assert "plumes" in subtitles and "feathers" not in subtitles
    assert editor.undo.isClean()

    # The engine keeps the corrections: opening the live transcript again shows them.
    with qtbot.waitSignal(bridge.transcript_opened, timeout=30_000) as opened:
        bridge.open_live()
    again = opened.args[0]
    assert again.edited and "plumes" in " ".join(s.text for s in again.transcript.segments)


def test_a_microphone_transcript_says_it_has_nothing_to_play(qtbot: QtBot, tmp_path: Path) -> None:
    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3")))
    words = (Word(" Hello", 0.0, 0.4, 0.9), Word(" there.", 0.4, 0.8, 0.8))
    segment = Segment(start=0.0, end=0.8, text="Hello there.", words=words)
    opened = p.TranscriptOpened(
        job_id=p.LIVE_TRANSCRIPT_ID,
        transcript=Transcript(segments=(segment,), language=None, duration=0.8, model="m"),
        audio_path="",
    )
    editor = TranscriptEditor(bridge, opened)
    qtbot.addWidget(editor)
    assert editor.windowTitle() == "Live: microphone — transcript"
    editor.play_selected()
    assert not editor.playing and "not recorded" in editor.status.text()
