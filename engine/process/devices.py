"""Input devices for the UI: listed on request, then watched while a UI is attached.

PortAudio reads the device list once, when it starts; a sound server (PulseAudio, PipeWire)
that appears later, or a microphone plugged in, stays invisible until PortAudio is started
again. The watcher does that every ``poll_s`` seconds — only while no stream is open, since
restarting PortAudio would cut it — and sends ``DevicesListed`` only when the list changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from voxtune.engine import protocol as p
from voxtune.engine.errors import VoxtuneError
from voxtune.engine.process.workers import Emit

POLL_S = 5.0

Listing = tuple[tuple[p.InputDeviceEntry, ...], str | None]


def list_devices(rescan: bool) -> Listing:
    """The input devices, or none and one line saying why."""
    from voxtune.engine.audio.sources import list_input_devices, load_sounddevice

    try:
        sd = load_sounddevice()
        if rescan:
            sd._terminate()  # sounddevice's documented way to make PortAudio look again
            sd._initialize()
        devices = list_input_devices(sd)
    except (VoxtuneError, OSError) as exc:
        return (), str(exc)
    entries = tuple(
        p.InputDeviceEntry(
            index=d.index, name=d.name, host_api=d.host_api, channels=d.channels,
            is_default=d.is_default,
        )
        for d in devices
    )  # fmt: skip
    return entries, None


class DeviceWatcher:
    def __init__(self, emit: Emit, stream_open: Callable[[], bool], poll_s: float = POLL_S) -> None:
        self._emit = emit
        self._stream_open = stream_open
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._last: Listing | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def answer(self, command: p.ListDevices) -> None:
        """Send the list now (re-read unless a stream is open), then keep watching."""
        listing = self._refresh()
        devices, error = listing
        self._emit(p.DevicesListed(devices=devices, error=error, reply_to=command.seq))
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="voxtune-devices", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _refresh(self) -> Listing:
        with self._lock:
            listing = list_devices(rescan=self._last is not None and not self._stream_open())
            self._last = listing
        return listing

    def _watch(self) -> None:
        while not self._stopped.wait(self._poll_s):
            if self._stream_open():
                continue
            with self._lock:
                listing = list_devices(rescan=True)
                if listing == self._last:
                    continue
                self._last = listing
            devices, error = listing
            self._emit(p.DevicesListed(devices=devices, error=error))
