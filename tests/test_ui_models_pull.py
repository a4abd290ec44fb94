"""A pull from the Models tab on the real engine, against a local stand-in for the Hub
(tests/hub_mirror.py, via HF_ENDPOINT): progress in bytes with the total, Cancel part-way
deleting what was fetched, then a full pull whose files are the served ones, byte for byte,
listed at once and deleted again with Remove."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_mirror import FakeHub
from pytestqt.qtbot import QtBot

from voxtune.engine import protocol as p
from voxtune.engine.config import EngineConfig
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.models_tab import ModelsTab
from voxtune.ui.settings import UiSettings

REPO = "test-org/tiny-whisper"
PULL_TIMEOUT_MS = 120_000


@pytest.fixture
def hub(tiny_whisper: Path) -> Iterator[FakeHub]:
    with FakeHub(REPO, tiny_whisper, rate=2e6) as hub:  # 2 MB/s a file: ~7 s for the weights
        yield hub


@pytest.fixture
def tab(
    qtbot: QtBot, tmp_path: Path, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModelsTab]:
    # The engine is spawned with this environment: its huggingface_hub talks to the fake Hub.
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), threads=1))
    settings = UiSettings(output_dir=str(tmp_path))
    tab = ModelsTab(bridge, lambda: settings, lambda _s: None)
    qtbot.addWidget(tab)
    bridge.start()
    tab.show()
    yield tab
    bridge.stop()


def test_pull_shows_bytes_cancels_part_way_then_completes(
    qtbot: QtBot, tab: ModelsTab, hub: FakeHub, tmp_path: Path
) -> None:
    progress: list[p.ModelProgress] = []
    tab.bridge.model_progress.connect(progress.append)
    repo_cache = tmp_path / "hf-cache" / ("models--" + REPO.replace("/", "--"))

    tab.pull(REPO)
    assert tab.cancel_button.isVisible() and not tab.pull_button.isEnabled()
    qtbot.waitUntil(
        lambda: any(e.done_bytes > 2e6 and e.total_bytes for e in progress), timeout=PULL_TIMEOUT_MS
    )
    assert " MB of " in tab.message.text()  # "4.1 MB of 17.9 MB (23%)"
    assert repo_cache.is_dir()
    with qtbot.waitSignal(tab.bridge.models_changed, timeout=PULL_TIMEOUT_MS) as changed:
        tab.cancel()
        assert tab.message.text() == "Cancelling…"
    assert changed.args[1:] == [REPO, "cancelled"]
    assert hub.sent < hub.total_bytes  # the transfer really stopped part-way
    assert not repo_cache.exists()  # and what it fetched is gone
    assert not tab.cancel_button.isVisible() and tab.pull_button.isEnabled()
    assert tab.message.text() == f"{REPO}: cancelled."

    hub.rate, hub.sent, progress[:] = None, 0, []
    with qtbot.waitSignal(tab.bridge.models_changed, timeout=PULL_TIMEOUT_MS) as changed:
        tab.pull(REPO)
    assert changed.args[1:] == [REPO, "pulled"]
    last = progress[-1]
    assert last.done_bytes == last.total_bytes == hub.total_bytes
    assert [e.done_bytes for e in progress] == sorted(e.done_bytes for e in progress)
    (snapshot,) = (repo_cache / "snapshots").iterdir()
    for name, source in hub.files.items():
        fetched = (snapshot / name).read_bytes()
        assert hashlib.sha256(fetched).digest() == hashlib.sha256(source.read_bytes()).digest()

    # A pulled model is listed at once, with its size on disk, and Remove deletes it.
    (row,) = [i for i, m in enumerate(tab.models) if m.name == REPO]
    assert tab.models[row].source == "hub" and tab.models[row].size_bytes >= hub.total_bytes
    tab.table.selectRow(row)
    with qtbot.waitSignal(tab.bridge.models_changed, timeout=PULL_TIMEOUT_MS) as changed:
        tab.remove_selected()
    assert changed.args[1:] == [REPO, "removed"]
    assert REPO not in [m.name for m in tab.models] and not repo_cache.exists()

    # Cancelling when nothing runs is one clear line (in the same test: an engine start less).
    with qtbot.waitSignal(tab.bridge.engine_error, timeout=PULL_TIMEOUT_MS) as error:
        tab.bridge.cancel_model_task(12345)
    assert error.args == ["cancel_model_task: no download 12345 is running"]
