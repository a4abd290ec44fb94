"""Render every view offscreen to PNG under docs/screenshots/ (for the README): each tab
(Files, Live, Models, Tune, Settings) and the transcript editor, at 1024×700 and 1600×1000,
light and dark, named ``{view}-{W}x{H}-{theme}.png``.

    QT_QPA_PLATFORM=offscreen python tests/screenshots.py [OUTPUT_DIR] [editor]

``editor`` makes only the transcript editor's shots: a real tiny.en transcript of a FLEURS
recording.

The Live tab shows a real stream: tiny.en transcribing a FLEURS recording read through a
FileSource, its updates fed through the bridge as the engine's events would be. The Files
tab shows a queue in every state. No engine process is started.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VOXTUNE_TEST_DATA", REPO.parent / "shared" / "data"))


def english_files() -> list[Path]:
    rows = (DATA / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [DATA / r.split("\t")[0] for r in rows if r.split("\t")[1] == "en"]


def live_updates(path: Path) -> list:
    from voxtune.engine import protocol as p
    from voxtune.engine.audio.sources import FileSource
    from voxtune.engine.models import load_model
    from voxtune.engine.stream import StreamingTranscriber

    transcriber = StreamingTranscriber(load_model())
    with FileSource(path, speed=None) as source:
        return [p.LiveUpdate(committed=u.committed, partial=u.partial)
                for u in transcriber.run(source)]  # fmt: skip


def queue_jobs(files: list[Path], output_dir: Path) -> list:
    from dataclasses import replace

    from voxtune.engine.jobs.job import Job, JobSpec, JobState

    now = time.time()
    specs = [JobSpec.for_file(f, output_dir, formats=("srt", "txt")) for f in files]
    queued = JobState.QUEUED
    base = [Job(id=n, spec=s, state=queued, created_at=now) for n, s in enumerate(specs, 1)]
    done = [(str(Path(s.output_dir) / f"{s.stem}.srt"),) for s in specs]
    return [
        replace(base[0], state=JobState.DONE, progress=1.0, duration=10.6, outputs=done[0]),
        replace(base[1], state=JobState.DONE, progress=1.0, duration=12.9, outputs=done[1]),
        replace(base[2], state=JobState.RUNNING, progress=0.42, duration=11.4),
        base[3],
        replace(base[4], state=JobState.FAILED, duration=None, retryable=False,
                error=f"{specs[4].input_path}: not an audio or video file"),
    ]  # fmt: skip


def editor_shots(app: QApplication, output: Path) -> list[Path]:
    from voxtune.engine import protocol as p
    from voxtune.engine.config import EngineConfig
    from voxtune.engine.models import load_model
    from voxtune.engine.transcribe import make_transcriber
    from voxtune.engine.transcribe.files import transcribe_file
    from voxtune.engine.types import TranscriptionOptions
    from voxtune.ui.bridge import EngineBridge
    from voxtune.ui.editor_window import TranscriptEditor
    from voxtune.ui.theme import apply_theme

    scratch = Path(tempfile.mkdtemp(prefix="voxtune-editor-shots-"))
    os.environ.setdefault("VOXTUNE_HOME", str(scratch / "home"))
    # The English recordings joined into one (about a minute): a transcript of many segments.
    import wave

    import numpy as np

    from voxtune.engine.audio.decode import decode_audio

    audio = scratch / "fleurs-en-joined.wav"
    joined = np.concatenate([decode_audio(f) for f in english_files()])
    with wave.open(str(audio), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(joined, -1, 1) * 32767).astype("<i2").tobytes())
    transcript = transcribe_file(
        audio, make_transcriber(load_model()), TranscriptionOptions(language="en", beam_size=1)
    )
    opened = p.TranscriptOpened(job_id=1, transcript=transcript, audio_path=str(audio))
    bridge = EngineBridge(EngineConfig(db_path=str(scratch / "jobs.sqlite3")))  # not started
    shots: list[Path] = []
    for theme in ("light", "dark"):
        apply_theme(theme, app)
        editor = TranscriptEditor(bridge, opened)  # reads the palette it is born with
        editor.show()
        editor.table.selectRow(min(1, editor.model.rowCount() - 1))
        for width, height in ((1024, 700), (1600, 1000)):
            editor.resize(width, height)
            app.processEvents()
            path = output / f"editor-{width}x{height}-{theme}.png"
            editor.grab().save(str(path))
            shots.append(path)
        editor.close()
    apply_theme("light", app)
    shutil.rmtree(scratch, ignore_errors=True)
    return shots


SIZES = ((1024, 700), (1600, 1000))
THEMES = ("light", "dark")
VIEWS = ("files", "live", "models", "tune", "settings")  # the tabs, in their order


def main(output: Path) -> list[Path]:
    """Every tab at both sizes in both themes (``{view}-{W}x{H}-{theme}.png``), the engine
    banner, then the editor's shots."""
    from voxtune.engine import protocol as p
    from voxtune.engine.config import EngineConfig
    from voxtune.engine.process.model_tasks import model_entries
    from voxtune.ui.bridge import EngineBridge
    from voxtune.ui.main_window import MainWindow
    from voxtune.ui.settings import UiSettings, open_qsettings, save_settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    output.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="voxtune-shots-"))
    os.environ.setdefault("VOXTUNE_HOME", str(scratch / "home"))
    files = english_files()
    store = open_qsettings(scratch / "settings.ini")
    save_settings(store, UiSettings(output_dir=str(Path.home() / "Subtitles")))
    bridge = EngineBridge(EngineConfig(db_path=str(scratch / "jobs.sqlite3")))  # not started
    devices = ("Built-in Audio Analog Stereo", "USB Headset Microphone")
    window = MainWindow(bridge, store, log_folder=scratch / "logs")
    window.show()
    entries = tuple(
        p.InputDeviceEntry(index=i, name=n, host_api="ALSA", channels=2, is_default=i == 0)
        for i, n in enumerate(devices)
    )
    bridge.dispatch(p.DevicesListed(devices=entries))

    model = window.files_tab.model
    inputs = [*files[:4], files[4].with_name("meeting-notes.ogg")]
    jobs = queue_jobs(inputs, Path.home() / "Subtitles")
    model.set_jobs(jobs)
    model.on_progress(3, 0.42, 14.0)
    window.files_tab.table.selectRow(2)
    window.engine_label.setText("Engine ready (pid 4242, CPU)")

    updates = live_updates(files[0])  # imports tiny.en: the Models tab then shows its size
    partial_at = max(i for i, u in enumerate(updates) if u.partial)
    for update in updates[: partial_at + 1]:
        bridge.dispatch(update)
    window.live_tab.device_box.setCurrentIndex(1)
    window.live_tab.on_started("Built-in Audio Analog Stereo")
    window.live_tab.set_level(-18)

    # The Models tab as the engine lists it, a pull under way (the bytes and Cancel).
    tab = window.models_tab
    bridge.dispatch(p.ModelsListed(models=model_entries()))
    tab.hub_edit.setText("openai/whisper-small")
    tab._start(7, "Pulling openai/whisper-small from the Hub…")
    tab.pulling = True
    tab.cancel_button.show()
    bridge.dispatch(
        p.ModelProgress(task="pull", name="openai/whisper-small", done_bytes=412_300_000,
                        total_bytes=967_000_000, reply_to=7)
    )  # fmt: skip

    shots: list[Path] = []

    def grab(name: str) -> None:
        window.statusBar().clearMessage()  # "the engine is not running": no engine here
        app.processEvents()
        path = output / f"{name}.png"
        window.grab().save(str(path))
        shots.append(path)

    for theme in THEMES:
        window.apply_theme(theme)
        for width, height in SIZES:
            window.resize(width, height)
            for index, view in enumerate(VIEWS):
                window.tabs.setCurrentIndex(index)
                grab(f"{view}-{width}x{height}-{theme}")
    window.apply_theme("light")
    window.resize(*SIZES[0])
    window.tabs.setCurrentIndex(0)
    window.banner.show_death("the engine was killed (signal 9)", (3,))
    grab("engine-restart")
    window.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return shots + editor_shots(app, output)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots"
    if sys.argv[2:] == ["editor"]:
        qapp = QApplication.instance() or QApplication(sys.argv[:1])
        target.mkdir(parents=True, exist_ok=True)
        made = editor_shots(qapp, target)  # type: ignore[arg-type]
    else:
        made = main(target)
    for shot in made:
        print(shot)
