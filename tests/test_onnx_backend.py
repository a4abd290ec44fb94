"""The onnx backend as a choice: any model exported once into the model store, `voxtune batch
--backend onnx` through the engine process, and the Settings tab's Backend restarting the
engine with it."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytestqt.qtbot import QtBot
from test_batch_cli import finish, start_cli
from test_ui_files import make_window

from voxtune.app import paths
from voxtune.engine.backends.onnx_backend import cached_export_folder
from voxtune.engine.evaluation import word_error_rate
from voxtune.engine.export.onnx_files import is_onnx_export
from voxtune.engine.models import ModelRequest, build_model, resolve_model
from voxtune.engine.transcribe import transcribe_file
from voxtune.engine.types import TranscriptionOptions

OPTIONS = TranscriptionOptions(beam_size=1, language="en")


def test_a_model_on_the_onnx_backend_is_exported_once_then_reused(english_dev) -> None:  # type: ignore[no-untyped-def]
    folder = cached_export_folder(resolve_model("whisper-tiny.en"), "float32")
    shutil.rmtree(folder, ignore_errors=True)
    ready = build_model(ModelRequest(name="whisper-tiny.en", backend="onnx"))
    assert ready.loaded.model.__class__.__name__ == "OnnxRunner"
    assert ready.loaded.model.folder == folder and is_onnx_export(folder)
    assert ready.info.source == "onnx" and ready.info.name == "whisper-tiny.en"
    # No staging folder is left beside it.
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []
    made = (folder / "decoder.onnx").stat().st_mtime_ns
    again = build_model(ModelRequest(name="whisper-tiny.en", backend="onnx"))
    assert again.loaded.model.folder == folder
    assert (folder / "decoder.onnx").stat().st_mtime_ns == made  # reused, not exported again
    clip = english_dev[0]
    text = transcribe_file(clip.path, again.offline_transcriber(), OPTIONS).text
    assert word_error_rate([clip.reference], [text]) < 0.3


def test_batch_backend_onnx_runs_the_jobs_on_onnxruntime(tmp_path: Path, english_dev: list) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(paths.models_dir(), target_is_directory=True)
    folder = cached_export_folder(resolve_model("whisper-tiny.en"), "float32")
    shutil.rmtree(folder, ignore_errors=True)  # made by the engine process, or not at all
    clip, out = english_dev[1], tmp_path / "out"
    command = ("batch", str(clip.path), "-o", str(out), "-f", "txt", "--beam-size", "1")
    result, stderr = finish(start_cli(home, *command, "--backend", "onnx", "--language", "en"))
    assert result == {"exit": 0, "heavy": []}, stderr
    assert is_onnx_export(folder)  # only the onnx backend writes it
    [text] = out.glob("*.txt")
    assert word_error_rate([clip.reference], [text.read_text()]) < 0.3

    result, stderr = finish(start_cli(home, *command, "--backend", "tensorflow"))
    assert result == {} and "invalid choice: 'tensorflow'" in "\n".join(stderr)


def test_settings_backend_restarts_the_engine_with_it(qtbot: QtBot, tmp_path: Path) -> None:
    from voxtune.ui.settings import load_settings, open_qsettings

    window = make_window(qtbot, tmp_path)
    try:
        bridge, tab = window.bridge, window.settings_tab
        qtbot.waitUntil(lambda: "ready" in window.engine_label.text(), timeout=60_000)
        first_pid = bridge.pid
        assert tab.backend_box.currentData() == "torch" and bridge.config.backend == "torch"
        tab.backend_box.setCurrentIndex(tab.backend_box.findData("onnx"))
        assert tab.apply_button.isEnabled()
        with qtbot.waitSignal(bridge.engine_restarted, timeout=30_000):
            tab.apply()
        assert bridge.config.backend == "onnx" and bridge.client.config.backend == "onnx"
        qtbot.waitUntil(lambda: bridge.pid not in (None, first_pid), timeout=60_000)
        assert load_settings(open_qsettings(tmp_path / "settings.ini")).backend == "onnx"
    finally:
        window.close()
