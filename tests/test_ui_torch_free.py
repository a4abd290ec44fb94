"""The UI process never imports torch: checked in a fresh process after a real job has run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import srt

HEAVY = ("torch", "transformers", "peft", "ctranslate2", "silero_vad", "ray", "accelerate")

# Runs as its own main module: the engine is spawned, so the script must be a real file.
CHILD = """
import json, sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from voxtune.ui.app import build_window
from voxtune.ui.settings import UiSettings, open_qsettings, save_settings


def main() -> None:
    audio, output_dir = sys.argv[1], sys.argv[2]
    save_settings(open_qsettings(), UiSettings(output_dir=output_dir, beam_size=1))
    app = QApplication(sys.argv[:1])
    window = build_window(app)
    window.show()
    loop = QEventLoop()
    window.bridge.job_done.connect(lambda *_: loop.quit())
    window.bridge.job_failed.connect(lambda *_: loop.quit())
    QTimer.singleShot(240_000, loop.quit)
    window.files_tab.add_paths([audio])
    loop.exec()
    jobs = window.files_tab.model.jobs()
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
    window.close()
    print(json.dumps({"heavy": heavy, "states": [j.state.value for j in jobs],
                      "outputs": [list(j.outputs) for j in jobs],
                      "visible_tabs": window.tabs.count()}))


HEAVY = HEAVY_NAMES
if __name__ == "__main__":
    main()
""".replace("HEAVY_NAMES", repr(HEAVY))


def test_window_and_a_finished_job_leave_torch_unimported(
    tmp_path: Path, english_dev: list
) -> None:
    script = tmp_path / "ui_child.py"
    script.write_text(CHILD)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    # A home of its own (the job list must hold this job only), with the session's models
    # (the embedded one already imported).
    home = tmp_path / "home"
    home.mkdir()
    models = Path(os.environ["VOXTUNE_HOME"]) / "models"
    models.mkdir(exist_ok=True)  # a link to a folder not made yet would dangle
    (home / "models").symlink_to(models, target_is_directory=True)
    env["VOXTUNE_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, str(script), str(english_dev[1].path), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["states"] == ["done"], done.stderr[-2000:]
    assert report["heavy"] == []
    assert report["visible_tabs"] == 5  # Files, Live, Models, Tune, Settings
    (output,) = report["outputs"][0]
    assert list(srt.parse(Path(output).read_text(encoding="utf-8")))
