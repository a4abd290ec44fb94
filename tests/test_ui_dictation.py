"""The global dictation hotkey and typing at the cursor, on a real X server (Xvfb).

pynput listens to the X server for the hotkey (the RECORD extension) and types with XTEST; a
plain X window with the keyboard focus, made with python-xlib, receives the key presses, so
what is checked is what another program would really get.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from voxtune.engine import protocol as p
from voxtune.engine.config import EngineConfig
from voxtune.engine.types import Word
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.live_tab import LiveTab
from voxtune.ui.settings import UiSettings

if importlib.util.find_spec("pynput") is None:  # imported only with a display to connect to
    if os.environ.get("CI"):  # the test extra that ./dev installs has it: a skip would hide this
        pytest.fail("pynput is not installed; CI installs it (.[test])", pytrace=False)
    pytest.skip("the hotkey extra is not installed: pip install .[hotkey]", allow_module_level=True)


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is not installed; CI installs it (./dev), so this must run there")
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    # A display number no other server holds (others may run tests on this machine too).
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "640x480x24", "-nolisten", "tcp", "-noreset"],
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 30
    while not socket.exists() and server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the server makes its socket once it accepts clients
    if not socket.exists():
        server.kill()
        pytest.fail(f"Xvfb :{number} did not start")
    yield f":{number}"
    server.terminate()
    server.wait(10)


class FocusedWindow:
    """An X window holding the keyboard focus; ``text()`` is what was typed into it."""

    def __init__(self, display_name: str) -> None:
        from Xlib import X, display

        self.display = display.Display(display_name)
        screen = self.display.screen()
        self.window = screen.root.create_window(
            0, 0, 300, 100, 0, screen.root_depth, event_mask=X.KeyPressMask
        )
        self.window.map()
        self.display.sync()
        self.window.set_input_focus(X.RevertToParent, X.CurrentTime)
        self.display.sync()
        self.typed = ""

    def text(self) -> str:
        from Xlib import X

        while self.display.pending_events():
            event = self.display.next_event()
            if event.type == X.KeyPress:
                keysym = self.display.keycode_to_keysym(event.detail, 0)
                if 0x20 <= keysym < 0x7F:  # Latin-1 keysyms are their characters
                    self.typed += chr(keysym)
        return self.typed

    def chord(self, *keysyms: str) -> None:
        """Press the keys in order and release them, as a person would (XTEST, at the
        server: every client sees them as real key presses)."""
        from Xlib import XK, X
        from Xlib.ext import xtest

        codes = [self.display.keysym_to_keycode(XK.string_to_keysym(k)) for k in keysyms]
        for code in codes:
            xtest.fake_input(self.display, X.KeyPress, code)
        for code in reversed(codes):
            xtest.fake_input(self.display, X.KeyRelease, code)
        self.display.sync()

    def close(self) -> None:
        self.window.destroy()
        self.display.close()


@pytest.fixture
def focused(x_display: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FocusedWindow]:
    monkeypatch.setenv("DISPLAY", x_display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    window = FocusedWindow(x_display)
    yield window
    window.close()


def wait_for_text(qtbot: QtBot, window: FocusedWindow, wanted: str) -> None:
    qtbot.waitUntil(lambda: window.text() == wanted, timeout=10_000)


def test_the_typist_types_into_the_focused_window(qtbot: QtBot, focused: FocusedWindow) -> None:
    from voxtune.ui.dictation import Typist, availability

    assert availability() == (True, "X11: works in every window")
    Typist().type("hello world")
    wait_for_text(qtbot, focused, "hello world")


def test_the_hotkey_starts_dictation_and_words_are_typed_as_they_are_committed(
    qtbot: QtBot, focused: FocusedWindow, tmp_path: Path
) -> None:
    from voxtune.ui.dictation import DEFAULT_HOTKEY, Dictation

    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3")))
    tab = LiveTab(bridge, lambda: UiSettings(output_dir=str(tmp_path)))
    qtbot.addWidget(tab)
    dictation = Dictation(tab)
    assert dictation.set_hotkey(DEFAULT_HOTKEY) is None
    assert dictation.hotkey is not None
    dictation.hotkey.wait_ready()
    try:
        # No engine runs here: the Live tab's start reaches the bridge, which says so.
        with qtbot.waitSignal(bridge.engine_error, timeout=10_000) as refused:
            focused.chord("Control_L", "Alt_L", "d")  # DEFAULT_HOTKEY, pressed at the server
        assert dictation.dictating and "engine" in refused.args[0]
        focused.text()  # the hotkey's own presses reach the window too: forget them
        focused.typed = ""

        words = (Word(" hello", 0.0, 0.3, 0.9), Word(" there", 0.3, 0.6, 0.9))
        with qtbot.waitSignal(dictation.typed) as typed:
            bridge.dispatch(p.LiveUpdate(committed=words, partial=(Word(" fr", 0.6, 0.7, 0.5),)))
        assert typed.args == ["hello there"]  # no space before the first word; no partials
        bridge.dispatch(p.LiveUpdate(committed=(Word(" friend", 0.6, 0.9, 0.9),), partial=()))
        wait_for_text(qtbot, focused, "hello there friend")

        bridge.dispatch(p.LiveStopped())
        bridge.dispatch(p.LiveUpdate(committed=(Word(" later", 1.0, 1.2, 0.9),), partial=()))
        time.sleep(0.2)  # a stopped dictation types nothing more: give it the chance to
        assert focused.text() == "hello there friend" and not dictation.dictating
    finally:
        dictation.stop()


def test_a_bad_hotkey_and_wayland_are_refused_in_one_line(
    focused: FocusedWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxtune.ui.dictation import availability, check_hotkey

    assert "not a hotkey" in (check_hotkey("<ctrl>+<nokey>") or "")
    monkeypatch.delenv("DISPLAY")
    assert check_hotkey("<ctrl>+<alt>+d") == "no X display: global hotkeys need X11"
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert availability() == (
        False, "not on Wayland: it forbids global hotkeys and typing into others"
    )  # fmt: skip
