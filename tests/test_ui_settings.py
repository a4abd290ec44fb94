"""Settings kept in a real INI file, the Settings and Models tabs, the confidence scale."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from voxtune.engine.config import EngineConfig
from voxtune.engine.home import settings_file
from voxtune.engine.subtitles import SubtitleRules
from voxtune.ui.bridge import EngineBridge
from voxtune.ui.confidence import BANDS, PARTIAL_DARK, PARTIAL_LIGHT, ConfidenceLegend, band_for
from voxtune.ui.models_tab import ModelsTab
from voxtune.ui.settings import UiSettings, load_settings, open_qsettings, save_settings
from voxtune.ui.settings_tab import SettingsTab

LIGHT_BASE, DARK_BASE = "#ffffff", "#1e1e1e"


class Holder:
    """What the main window does for a tab: keep the settings, persist each change."""

    def __init__(self, path: Path) -> None:
        self.store = open_qsettings(path)
        self.value = load_settings(self.store)

    def get(self) -> UiSettings:
        return self.value

    def set(self, settings: UiSettings) -> None:
        self.value = settings
        save_settings(self.store, settings)


def test_settings_live_in_an_ini_file_under_voxtune_home(voxtune_home: Path) -> None:
    store = open_qsettings()
    assert Path(store.fileName()) == settings_file()
    assert settings_file().parent == voxtune_home


def test_settings_survive_a_round_trip(tmp_path: Path) -> None:
    chosen = UiSettings(
        model="whisper-base", language="de", beam_size=2, device="cpu",
        output_dir=str(tmp_path / "subs"), formats=("vtt", "srt"), max_line_chars=32,
        max_lines=1, min_duration=0.5, max_duration=5.5, input_device="USB microphone",
    )  # fmt: skip
    save_settings(open_qsettings(tmp_path / "s.ini"), chosen)
    loaded = load_settings(open_qsettings(tmp_path / "s.ini"))
    assert loaded == replace(chosen, formats=("srt", "vtt"))  # formats in canonical order
    assert loaded.transcription_options().language == "de"
    assert loaded.transcription_options().beam_size == 2
    assert loaded.subtitle_rules() == SubtitleRules(32, 1, min_duration=0.5, max_duration=5.5)


def test_damaged_settings_fall_back_to_defaults(tmp_path: Path) -> None:
    path = tmp_path / "s.ini"
    path.write_text(
        "[General]\nbeam_size=lots\ndevice=tpu\nformats=doc\nmodel=whisper-base\n"
        "max_line_chars=0\nmax_lines=3\nmin_duration=nan\nmax_duration=2.5\n"
    )
    loaded = load_settings(open_qsettings(path))
    defaults = UiSettings()
    assert (loaded.beam_size, loaded.device, loaded.formats) == (
        defaults.beam_size, defaults.device, defaults.formats,
    )  # fmt: skip
    assert loaded.model == "whisper-base"
    # Rules the engine would refuse fall back whole, so every job is not refused later.
    assert (loaded.max_line_chars, loaded.max_lines, loaded.max_duration) == (42, 2, 7.0)
    assert loaded.subtitle_rules() == SubtitleRules()


def test_settings_tab_applies_and_persists(qtbot: QtBot, tmp_path: Path) -> None:
    holder = Holder(tmp_path / "s.ini")
    tab = SettingsTab(holder.get, holder.set, gpu_available=False)
    qtbot.addWidget(tab)
    assert not tab.device_box.model().item(1).isEnabled()  # no GPU here: CUDA is greyed out
    tab.language_box.setCurrentIndex(tab.language_box.findData("fr"))
    tab.beam_spin.setValue(3)
    tab.chars_spin.setValue(37)
    tab.lines_spin.setValue(1)
    qtbot.mouseClick(tab.apply_button, Qt.MouseButton.LeftButton)
    reread = load_settings(open_qsettings(tmp_path / "s.ini"))
    assert (reread.language, reread.beam_size, reread.max_line_chars, reread.max_lines) == (
        "fr", 3, 37, 1,
    )  # fmt: skip
    tab.language_box.setCurrentIndex(tab.language_box.findData(""))
    tab.apply()
    assert load_settings(open_qsettings(tmp_path / "s.ini")).language == ""


def test_cue_durations_are_chosen_in_order_and_make_the_rules(qtbot: QtBot, tmp_path: Path) -> None:
    holder = Holder(tmp_path / "s.ini")
    tab = SettingsTab(holder.get, holder.set, gpu_available=False)
    qtbot.addWidget(tab)
    tab.max_duration_spin.setValue(4.0)
    tab.min_duration_spin.setValue(5.0)  # past the longest: the longest follows it up
    assert tab.max_duration_spin.value() == 5.0
    tab.min_duration_spin.setValue(0.5)
    tab.max_duration_spin.setValue(3.0)
    tab.apply()
    reread = load_settings(open_qsettings(tmp_path / "s.ini"))
    assert reread.subtitle_rules() == SubtitleRules(min_duration=0.5, max_duration=3.0)
    tab.load(replace(reread, min_duration=2.0, max_duration=2.5))
    assert (tab.min_duration_spin.value(), tab.max_duration_spin.value()) == (2.0, 2.5)
    tab.max_duration_spin.setValue(1.0)  # below the shortest: held at it
    assert tab.max_duration_spin.value() == 2.0


@pytest.fixture
def models_tab(qtbot: QtBot, tmp_path: Path) -> Iterator[tuple[ModelsTab, Holder]]:
    holder = Holder(tmp_path / "s.ini")
    config = EngineConfig(db_path=str(tmp_path / "jobs.sqlite3"), run_queue=False)
    bridge = EngineBridge(config)
    tab = ModelsTab(bridge, holder.get, holder.set)
    qtbot.addWidget(tab)
    with qtbot.waitSignal(bridge.models_listed, timeout=60_000):
        bridge.start()  # the tab asks the engine for the list when it is ready
    yield tab, holder
    bridge.stop()


def test_models_tab_lists_models_and_sets_the_default(
    models_tab: tuple[ModelsTab, Holder], tmp_path: Path
) -> None:
    tab, _holder = models_tab
    rows = {tab.table.item(r, 0).text(): r for r in range(tab.table.rowCount())}
    assert {"whisper-tiny.en", "whisper-base"} <= set(rows)
    tiny = rows["whisper-tiny.en"]
    assert tab.table.item(tiny, 1).text() == "whisper"
    assert tab.table.item(tiny, 2).text() == "en"
    assert tab.table.item(rows["whisper-base"], 2).text().endswith("languages")
    assert tab.table.item(tiny, 5).text() == "✓"
    tab.table.selectRow(rows["whisper-base"])
    tab.use_selected()
    assert load_settings(open_qsettings(tmp_path / "s.ini")).model == "whisper-base"
    assert tab.table.item(rows["whisper-base"], 5).text() == "✓"
    assert tab.table.item(tiny, 5).text() == ""


def test_pull_without_network_says_so(qtbot: QtBot, models_tab: tuple[ModelsTab, Holder]) -> None:
    tab, _holder = models_tab
    tab.pull("openai/whisper-tiny")
    assert not tab.busy.isHidden() and not tab.pull_button.isEnabled()
    qtbot.waitUntil(lambda: tab.task is None, timeout=60_000)
    assert tab.message.text() == (
        "cannot reach the Hugging Face Hub to fetch openai/whisper-tiny (offline?)"
    )
    assert tab.busy.isHidden() and tab.pull_button.isEnabled()


def test_importing_a_folder_that_is_no_model_names_it(
    qtbot: QtBot, models_tab: tuple[ModelsTab, Holder], tmp_path: Path
) -> None:
    tab, _holder = models_tab
    folder = tmp_path / "holiday-photos"
    folder.mkdir()
    tab.import_folder(str(folder))
    qtbot.waitUntil(lambda: tab.task is None, timeout=60_000)
    assert tab.message.text() == f"{folder}: no model.bin (not a CTranslate2 model directory)"


def contrast(a: str, b: str) -> float:
    def luminance(name: str) -> float:
        channels = []
        for c in QColor(name).getRgbF()[:3]:
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        r, g, b_ = channels
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_colour_is_readable_on_its_theme() -> None:
    for band in BANDS:
        assert contrast(band.light, LIGHT_BASE) >= 4.5, band
        assert contrast(band.dark, DARK_BASE) >= 4.5, band
    assert contrast(PARTIAL_LIGHT, LIGHT_BASE) >= 4.5
    assert contrast(PARTIAL_DARK, DARK_BASE) >= 4.5


def test_bands_cover_zero_to_one_and_the_legend_names_them(qtbot: QtBot) -> None:
    assert [band_for(c).name for c in (0.0, 0.59, 0.6, 0.84, 0.85, 1.0)] == [
        "unsure", "unsure", "likely", "likely", "sure", "sure",
    ]  # fmt: skip
    legend = ConfidenceLegend()
    qtbot.addWidget(legend)
    assert [label.text() for label in legend.labels] == [
        "sure (≥ 85%)", "likely (60%–85%)", "unsure (0%–60%)",
    ]  # fmt: skip


def test_a_cluster_address_is_kept_and_given_to_the_next_engine(
    qtbot: QtBot, tmp_path: Path
) -> None:
    holder = Holder(tmp_path / "s.ini")
    tab = SettingsTab(holder.get, holder.set, gpu_available=False)
    qtbot.addWidget(tab)
    assert tab.cluster_edit.text() == ""  # this machine, by default
    tab.cluster_edit.setText(" ray://head.example:10001 ")
    assert tab.apply_button.isEnabled()
    qtbot.mouseClick(tab.apply_button, Qt.MouseButton.LeftButton)
    reread = load_settings(open_qsettings(tmp_path / "s.ini"))
    assert reread.cluster == "ray://head.example:10001"
    bridge = EngineBridge(EngineConfig(db_path=str(tmp_path / "jobs.sqlite3")))
    bridge.set_cluster(reread.cluster)
    assert bridge.client.config.cluster == "ray://head.example:10001"
    bridge.set_cluster("")
    assert bridge.client.config.cluster is None
