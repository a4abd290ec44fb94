"""The Live tab showing a real stream: confidence colours, provisional tails, tooltips, saving.

The updates come from the real streaming transcriber reading real speech through a
``FileSource``, turned into the protocol's ``LiveUpdate`` events and fed through the bridge
exactly as the engine's would be.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import srt
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QTextCursor
from pytestqt.qtbot import QtBot

from voxtune.engine import protocol as p
from voxtune.engine.config import EngineConfig
from voxtune.engine.evaluation import normalize_text, word_error_rate
from voxtune.engine.subtitles import transcript_from_json
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.confidence import BANDS, colour_for, partial_colour
from voxtune.ui.live_tab import LiveTab
from voxtune.ui.settings import UiSettings
from voxtune.ui.transcript_view import word_tooltip


@pytest.fixture(scope="module")
def stream(english_dev: list) -> tuple[list[p.LiveUpdate], str]:
    from voxtune.engine.audio.sources import FileSource
    from voxtune.engine.models import load_model
    from voxtune.engine.stream import StreamingTranscriber

    utterance = english_dev[0]
    transcriber = StreamingTranscriber(load_model())
    source = FileSource(utterance.path, speed=None)
    with source:
        updates = [p.LiveUpdate(committed=u.committed, partial=u.partial)
                   for u in transcriber.run(source)]  # fmt: skip
    return updates, utterance.reference


@pytest.fixture
def tab(qtbot: QtBot, tmp_path: Path) -> LiveTab:
    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3")))
    settings = UiSettings(output_dir=str(tmp_path))
    tab = LiveTab(bridge, lambda: settings)
    usb = p.InputDeviceEntry(index=3, name="USB microphone", host_api="ALSA", channels=1,
                             is_default=False)  # fmt: skip
    bridge.dispatch(p.DevicesListed(devices=(usb,)))
    qtbot.addWidget(tab)
    tab.resize(700, 400)
    tab.show()
    return tab


def feed(tab: LiveTab, updates: list[p.LiveUpdate]) -> None:
    for update in updates:
        tab.bridge.dispatch(update)


def test_committed_words_carry_their_confidence_colour(tab: LiveTab, stream: tuple) -> None:
    updates, reference = stream
    feed(tab, updates)
    view = tab.view
    committed = [w for u in updates for w in u.committed]
    assert view.committed == committed and view.partial == updates[-1].partial == ()
    assert word_error_rate([normalize_text(reference)], [normalize_text(view.text())]) < 0.4
    drawn = view.rendered_words()
    assert [d.text.strip() for d in drawn] == [w.text.strip() for w in committed]
    assert [d.colour for d in drawn] == [colour_for(w.confidence, dark=False) for w in committed]
    assert not any(d.provisional for d in drawn)
    assert {d.colour for d in drawn} <= {b.light for b in BANDS}


def test_partial_words_are_drawn_provisional_then_replaced(tab: LiveTab, stream: tuple) -> None:
    updates, _ = stream
    at = next(i for i, u in enumerate(updates) if u.partial)
    feed(tab, updates[: at + 1])
    drawn = tab.view.rendered_words()
    tail = drawn[-len(updates[at].partial) :]
    assert [d.text.strip() for d in tail] == [w.text.strip() for w in updates[at].partial]
    assert all(d.provisional and d.colour == partial_colour(dark=False) for d in tail)
    feed(tab, updates[at + 1 :])
    assert not any(d.provisional for d in tab.view.rendered_words())


def test_dark_theme_uses_the_dark_scale(tab: LiveTab, stream: tuple) -> None:
    palette = tab.view.palette()
    palette.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    tab.view.setPalette(palette)
    feed(tab, stream[0])
    drawn = tab.view.rendered_words()
    assert [d.colour for d in drawn] == [
        colour_for(w.confidence, dark=True) for w in tab.view.committed
    ]


def test_the_word_under_the_pointer_gives_its_tooltip(tab: LiveTab, stream: tuple) -> None:
    feed(tab, stream[0])
    view = tab.view
    cursor = QTextCursor(view.document())
    cursor.setPosition(3)  # inside the first word
    found = view.word_at(view.cursorRect(cursor).center())
    assert found == (view.committed[0], False)
    first = view.committed[0]
    tip = word_tooltip(*found)
    assert f"{first.confidence:.0%}" in tip and f"{first.start:.2f}–{first.end:.2f} s" in tip


def test_copy_clear_and_save_in_three_formats_by_the_engine(
    qtbot: QtBot, tmp_path: Path, english_dev: list
) -> None:
    """A live session from a file in the real engine; the engine writes what the tab shows."""
    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), run_queue=False))
    tab = LiveTab(bridge, lambda: UiSettings(output_dir=str(tmp_path)))
    qtbot.addWidget(tab)
    with qtbot.waitSignal(bridge.engine_ready, timeout=60_000):
        bridge.start()
    try:
        with qtbot.waitSignal(bridge.live_stopped, timeout=240_000):
            bridge._send(p.StartLive(file=str(english_dev[0].path), speed=None))
        tab.copy()
        assert tab.view.text() and QGuiApplication.clipboard().text() == tab.view.text()
        with qtbot.waitSignal(bridge.live_saved, timeout=30_000):
            tab.save(tmp_path / "dictation.txt")
        txt = tmp_path / "dictation.txt"
        assert txt.read_text(encoding="utf-8").strip() == tab.view.text()
        assert tab.status.text() == f"Saved {txt}."
        with qtbot.waitSignal(bridge.live_saved, timeout=30_000):
            tab.save(tmp_path / "dictation.srt")
        cues = list(srt.parse((tmp_path / "dictation.srt").read_text(encoding="utf-8")))
        assert normalize_text(" ".join(c.content for c in cues)) == normalize_text(tab.view.text())
        with qtbot.waitSignal(bridge.live_saved, timeout=30_000):
            tab.save(tmp_path / "dictation.json")
        json_path = tmp_path / "dictation.json"
        restored = transcript_from_json(json_path.read_text(encoding="utf-8"))
        assert [w.confidence for w in restored.words] == [w.confidence for w in tab.view.committed]
        assert json.loads(json_path.read_text(encoding="utf-8"))
        tab.clear()
        assert tab.view.text() == "" and tab.view.rendered_words() == []
        with qtbot.waitSignal(bridge.live_saved, timeout=30_000):
            tab.save(tmp_path / "after-clear.txt")
        assert (tmp_path / "after-clear.txt").read_text(encoding="utf-8").strip() == ""
    finally:
        bridge.stop()


def test_saving_as_an_unknown_format_is_refused_in_the_tab(tab: LiveTab, tmp_path: Path) -> None:
    target = tmp_path / "dictation.docx"
    assert tab.save(target) is None
    assert tab.status.text() == f"{target}: cannot save as '.docx' (use .txt, .srt or .json)"
    assert not target.exists()


def test_devices_start_stop_and_engine_refusal(qtbot: QtBot, tab: LiveTab) -> None:
    box = tab.device_box
    assert [box.itemText(i) for i in range(box.count())] == ["System default", "USB microphone"]
    tab.on_started("USB microphone")
    assert tab.running and tab.start_button.text() == "Stop"
    assert tab.status.text() == "Listening on USB microphone."
    tab.set_level(-12.4)
    assert tab.meter.value() == -12
    tab.bridge.dispatch(p.LiveStopped(error="input device 'USB microphone': unplugged"))
    assert not tab.running and tab.start_button.text() == "Start"
    assert tab.status.text() == "Stopped: input device 'USB microphone': unplugged"
    assert tab.meter.value() == tab.meter.minimum()
    # No engine is running in this test: Space asks for a start, and the refusal shows.
    qtbot.keyClick(tab.view, " ")
    assert not tab.running
    assert tab.status.text() == "Stopped: the engine is not running (restart it)"
