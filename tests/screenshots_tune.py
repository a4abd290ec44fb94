"""Render every step of the Tune tab offscreen, light and dark, to docs/screenshots/tune-*.png.

    QT_QPA_PLATFORM=offscreen python tests/screenshots_tune.py [OUTPUT_DIR]

Everything shown is real and made here, in this process (no engine process is started; the
pages are given what the engine would send): 24 espeak-ng jargon sentences
(``tune_factory``), their rows checked and the estimate measured by the engine's pre-flight,
a real short LoRA tune of the embedded tiny.en whose events draw the charts and fill the
Result page (held-out and general-English WER, the worst sentences), a real verified ONNX
export of it, and a recording set whose takes are espeak-ng speech and one silent take.
Takes a few minutes on two cores.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from PySide6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parents[1]
SIZE = (1100, 720)


def real_run(scratch: Path):  # type: ignore[no-untyped-def]
    """(data folder, checked rows, estimate, the tune's events, export) of a real short tune."""
    from tune_factory import jargon_sentences, speak, write_folder_dataset

    from voxtune.engine import protocol as p
    from voxtune.engine.export.formats import read_export_report
    from voxtune.engine.export.onnx_export import export_for_app
    from voxtune.engine.tune import run_tune
    from voxtune.engine.tune.config import GENERAL_SET, TuneConfig
    from voxtune.engine.tune.preflight import check_tune_data, estimate_tune

    spoken = speak(jargon_sentences(24, seed=3), scratch / "wav", seed=3)
    folder = write_folder_dataset(spoken, scratch / "my-dictation")
    (folder / "broken.wav").write_bytes(b"RIFF not really a wave file")
    (folder / "broken.txt").write_text("a clip that was cut off\n", encoding="utf-8")
    out = scratch / "tunes" / "whisper-tiny.en-20261203-131500"
    config = TuneConfig(
        data=folder, out=out, base="whisper-tiny.en", lora_rank=8, lora_alpha=16,
        batch_size=4, max_steps=15, eval_every=5, validation_fraction=0.2,
        general=GENERAL_SET, register_as=f"tuned-{out.name}",
    )  # fmt: skip
    checked = check_tune_data(config)
    estimate = estimate_tune(config)
    events = list(run_tune(config))
    exported = out / "exports" / "onnx"
    export_for_app(config.base, out / "adapter", exported)
    done = p.ExportDone(format="onnx", out=str(exported), report=read_export_report(exported))
    return spoken, folder, config, checked, estimate, events, done


def recording_set(folder: Path, spoken: list) -> object:  # type: ignore[type-arg]
    """A recording set: four takes of espeak-ng speech and one silent take, as saved."""
    import numpy as np

    from voxtune.engine import protocol as p
    from voxtune.engine.audio import decode_audio
    from voxtune.engine.process.recording import save_take
    from voxtune.engine.tune.recordings import RecordingSet

    recordings = RecordingSet(folder)
    recordings.save_sentences([s.text for s in spoken[:7]])
    takes = {}
    for index, sentence in enumerate(spoken[:5]):
        audio = decode_audio(sentence.audio) if index != 3 else np.zeros(8000, dtype=np.float32)
        command = p.StartRecording(path=str(recordings.take(index)))
        takes[index] = save_take(command, audio)
    recordings.write_manifest()
    return recordings, takes


def main(output: Path) -> list[Path]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    output.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="voxtune-tune-shots-"))
    os.environ.setdefault("VOXTUNE_HOME", str(scratch / "home"))

    from voxtune.engine import protocol as p
    from voxtune.engine.config import EngineConfig
    from voxtune.engine.tune.events import EvalDone, StepDone, TuneFinished
    from voxtune.ui.bridge import EngineBridge
    from voxtune.ui.main_window import MainWindow
    from voxtune.ui.settings import UiSettings, open_qsettings, save_settings
    from voxtune.ui.theme import apply_theme
    from voxtune.ui.tune_tab import DATA, PLAN, RESULT, TRAIN

    spoken, folder, config, checked, estimate, events, export = real_run(scratch)
    recordings, takes = recording_set(scratch / "home" / "recordings" / "my-voice", spoken)
    finished = next(e for e in events if isinstance(e, TuneFinished))
    worst = next(e for e in reversed(events) if isinstance(e, EvalDone)).worst
    # The Train shot: the run as it looked two thirds of the way through.
    steps = [i for i, e in enumerate(events) if isinstance(e, StepDone)]
    running = events[: steps[len(steps) * 2 // 3] + 1]

    store = open_qsettings(scratch / "settings.ini")
    save_settings(store, UiSettings(output_dir=str(Path.home() / "Voxtune")))
    bridge = EngineBridge(EngineConfig(db_path=str(scratch / "jobs.sqlite3")))  # not started
    window = MainWindow(bridge, store, log_folder=scratch / "logs")
    window.resize(*SIZE)
    window.show()
    tab = window.tune_tab
    window.tabs.setCurrentWidget(tab)
    panel = tab.record_panel
    panel.set = recordings
    panel.takes = takes
    panel._load()
    panel.table.selectRow(3)
    panel.status.setText("\n".join(takes[3].warnings) + "\nRecord it again?")
    tab.data_page.path.setText(str(folder))
    tab.data_page.show_report(p.TuneDataReport(checked=checked))
    bridge.dispatch(p.ModelsListed(models=(
        p.ModelEntry("whisper-tiny.en", "whisper", ("en",), 151_000_000, "", "embedded"),
        p.ModelEntry("whisper-base", "whisper", ("en", "de"), 290_000_000, "", "embedded"),
    )))  # fmt: skip
    tab.go(DATA)
    tab.go(PLAN)
    tab.plan_page.base.setCurrentText(config.base)
    tab.plan_page.out.setText(str(config.out))
    tab.plan_page.show_estimate(p.TuneEstimated(estimate=estimate))

    shots: list[Path] = []
    for theme in ("light", "dark"):
        apply_theme(theme, app)

        def grab(name: str, theme: str = theme) -> None:
            window.statusBar().clearMessage()  # "not running": this engine is never started
            window.engine_label.setText("Engine ready (pid 4242, CPU)")
            app.processEvents()  # after the label changed, so the status bar has laid it out
            path = output / f"tune-{name}-{theme}.png"
            window.grab().save(str(path))
            shots.append(path)

        tab.go(DATA)
        tab.data_page.sources.setCurrentIndex(0)
        grab("1-data")
        tab.data_page.sources.setCurrentIndex(1)
        grab("1-record")
        tab.stack.setCurrentIndex(PLAN)
        tab.go(PLAN)
        grab("2-plan")
        tab.config, tab.running = config, True
        tab.train_page.clear()
        for event in running:
            tab.train_page.add(event)
        tab.go(TRAIN)
        grab("3-train")
        tab.running = False
        tab.result_page.show_result(finished, worst, False)
        tab.result_page.show_export(export)
        tab.go(RESULT)
        grab("4-result")
        tab.resume_label.setText(
            f"A tune of {config.base} into {config.out} did not finish. "
            "Resume it from its checkpoint at step 10?"
        )
        tab.resume_bar.show()
        tab.go(DATA)
        tab.data_page.sources.setCurrentIndex(0)
        grab("resume")
        tab.resume_bar.hide()
    window.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return shots


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots"
    for shot in main(target):
        print(shot)
