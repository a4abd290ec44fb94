"""Dictation anywhere: a global hotkey starts and stops the Live tab's microphone, and the
words it commits are typed at the cursor of whatever window has the keyboard.

Both halves come from pynput (an optional dependency: ``pip install voxtune[hotkey]``), which
works where the platform lets one program listen to and type into others:

* X11 (and X11 programs under XWayland): works. Native Wayland windows neither report keys
  to other programs nor accept typed ones — Wayland forbids it by design; pynput's uinput
  backend could, but only as root.
* Windows: works, except into windows of programs running as administrator.
* macOS: only after the user allows Voxtune under Privacy & Security → Accessibility (typing)
  and Input Monitoring (the hotkey); until then nothing is heard or typed, silently.

``availability()`` says which of these applies here, in one line the Settings tab shows.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from voxtune.ui.live_tab import LiveTab

DEFAULT_HOTKEY = "<ctrl>+<alt>+d"


def availability() -> tuple[bool, str]:
    """Whether a global hotkey can work here, and what the user should know about it."""
    # Installed is asked without importing: on Linux, importing pynput connects to the display.
    if importlib.util.find_spec("pynput") is None:
        return False, "needs pynput: pip install 'voxtune[hotkey]'"
    if sys.platform == "darwin":
        return True, "macOS: allow Voxtune under Accessibility and Input Monitoring first"
    if sys.platform == "win32":
        return True, "works everywhere except in programs run as administrator"
    if not os.environ.get("DISPLAY"):
        if os.environ.get("WAYLAND_DISPLAY"):
            return False, "not on Wayland: it forbids global hotkeys and typing into others"
        return False, "no X display: global hotkeys need X11"
    if os.environ.get("WAYLAND_DISPLAY"):
        return True, "Wayland: heard and typed only while an X11 (XWayland) window has focus"
    return True, "X11: works in every window"


def check_hotkey(text: str) -> str | None:
    """None if pynput can parse ``text`` ("<ctrl>+<alt>+d"), else why not, in one line."""
    usable, why = availability()
    if not usable:
        return why
    try:
        from pynput.keyboard import HotKey
    except ImportError as exc:  # pynput found no display or input system to use
        return f"pynput cannot work here ({exc})".splitlines()[0]
    try:
        HotKey.parse(text)
    except ValueError as exc:
        return f"{text!r}: not a hotkey ({exc}); write it like {DEFAULT_HOTKEY}"
    return None


class GlobalHotkey(QObject):
    """One system-wide key combination; ``pressed`` is emitted on the GUI thread."""

    pressed = Signal()

    def __init__(self, combination: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from pynput.keyboard import GlobalHotKeys

        self.combination = combination
        # pynput calls back on its listener thread; a signal crosses to the GUI thread queued.
        self._listener: Any = GlobalHotKeys({combination: self.pressed.emit})
        self._listener.start()

    def wait_ready(self) -> None:
        """Block until the listener listens (its first key would otherwise be lost)."""
        self._listener.wait()

    def stop(self) -> None:
        self._listener.stop()
        self._listener.join(5)  # its X connections are closed by then, not under the next test


class Typist:
    """Types text at the cursor of the focused window, as key presses."""

    def __init__(self) -> None:
        from pynput.keyboard import Controller

        self._keyboard = Controller()

    def type(self, text: str) -> None:
        self._keyboard.type(text)


class Dictation(QObject):
    """The hotkey toggles the Live tab's microphone; committed words are typed as they come."""

    typed = Signal(str)  # what was typed, for the status bar and tests

    def __init__(
        self,
        live_tab: LiveTab,
        typist: Callable[[], Typist] = Typist,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.live_tab = live_tab
        self._make_typist = typist
        self._typist: Typist | None = None
        self.hotkey: GlobalHotkey | None = None
        self.dictating = False  # this session was started by the hotkey: type its words
        self._first = True
        live_tab.bridge.live_update.connect(self._on_update)
        live_tab.bridge.live_stopped.connect(self._on_stopped)

    def set_hotkey(self, combination: str) -> str | None:
        """Listen for ``combination`` ("" turns it off); None, or why it cannot be used."""
        if self.hotkey is not None:
            self.hotkey.stop()
            self.hotkey = None
        if not combination:
            return None
        if problem := check_hotkey(combination):
            return problem
        self.hotkey = GlobalHotkey(combination, self)
        self.hotkey.pressed.connect(self.toggle)
        return None

    def toggle(self) -> None:
        if self.live_tab.running:
            self.live_tab.toggle()  # stop; the words already heard are still typed
            return
        self.live_tab.use_file(None)  # dictation is the microphone
        self.dictating, self._first = True, True
        self.live_tab.dictating = True  # typed where the cursor is: no editor when it stops
        self.live_tab.toggle()

    def _on_update(self, committed: tuple, _partial: tuple) -> None:
        if not self.dictating or not committed:
            return
        text = "".join(word.text for word in committed)
        if self._first:  # no space before the first word at the cursor
            text, self._first = text.lstrip(), False
        if self._typist is None:
            self._typist = self._make_typist()
        self._typist.type(text)
        self.typed.emit(text)

    def _on_stopped(self, _error: object) -> None:
        self.dictating = False

    def stop(self) -> None:
        if self.hotkey is not None:
            self.hotkey.stop()
            self.hotkey = None
