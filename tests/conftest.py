"""Shared fixtures: an isolated Voxtune home, the real speech in ../shared/data."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Tests stop the processes they start with Ctrl-C (SIGINT). A shell without job control starts
# background commands with SIGINT ignored, and processes inherit that; a handler here (not an
# ignore) is reset to the default in every child, so they all hear Ctrl-C as a user's would.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Triton picks interpreter or compiled mode for its own language library when it is first
# imported, and importing transformers imports it: the kernel tests need a process that had
# TRITON_INTERPRET=1 from its start. tests/test_kernels_interpreted.py runs them in one.
collect_ignore = [] if os.environ.get("TRITON_INTERPRET") == "1" else ["interpreted"]

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("VOXTUNE_TEST_DATA", REPO.parent / "shared" / "data"))


@dataclass(frozen=True)
class Utterance:
    path: Path
    language: str
    reference: str


def read_manifest(name: str) -> list[Utterance]:
    with open(DATA_DIR / name, newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return [Utterance(DATA_DIR / r["path"], r["language"], r["reference"]) for r in rows]


@pytest.fixture(scope="session", autouse=True)
def voxtune_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Voxtune home for the session, so the embedded model is imported once."""
    home = tmp_path_factory.mktemp("voxtune-home")
    os.environ["VOXTUNE_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "dev.tsv").is_file():
        pytest.fail(f"real speech not found at {DATA_DIR} (set VOXTUNE_TEST_DATA)")
    return DATA_DIR


@pytest.fixture(scope="session")
def dev_set(data_dir: Path) -> list[Utterance]:
    return read_manifest("dev.tsv")


@pytest.fixture(scope="session")
def ivr_set(data_dir: Path) -> list[Utterance]:
    return read_manifest("ivr.tsv")


@pytest.fixture(scope="session")
def english_dev(dev_set: list[Utterance]) -> list[Utterance]:
    return [u for u in dev_set if u.language == "en"]


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Whisper in the Hugging Face layout (tests/model_factory.py), built once."""
    from model_factory import build_tiny_whisper

    return build_tiny_whisper(tmp_path_factory.mktemp("tiny") / "tiny-whisper")


# Tiny random Qwen3-ASR models in the real layout (tests/qwen3_factory.py): built once a
# session; tests copy them before changing anything.
@pytest.fixture(scope="session")
def tiny_asr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qwen3_factory import build_tiny_qwen3_asr

    return build_tiny_qwen3_asr(tmp_path_factory.mktemp("qwen3") / "tiny-qwen3-asr")


@pytest.fixture(scope="session")
def tiny_aligner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qwen3_factory import build_tiny_qwen3_asr

    return build_tiny_qwen3_asr(tmp_path_factory.mktemp("qwen3") / "tiny-aligner", aligner=True)


def sound_server_unavailable(reason: str) -> None:
    """Skip on a developer's machine without PulseAudio; fail in CI, whose set-up
    (``./dev test``) installs it: there a skip would hide the microphone and playback paths
    we claim."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI installs PulseAudio, so this test must run there")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def private_pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A PulseAudio of the module's own (private runtime folder; the machine's sound server,
    if any, is left alone): a null sink as default sink, its monitor as default source, so
    what ``paplay`` plays is what a recording hears. Yields the environment that reaches it."""
    if shutil.which("pulseaudio") is None or shutil.which("paplay") is None:
        sound_server_unavailable(
            "PulseAudio is not installed (apt-get install pulseaudio pulseaudio-utils)"
        )
    runtime = tmp_path_factory.mktemp("pulse-runtime")
    runtime.chmod(0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PULSE_SERVER", None)
    started = subprocess.run(
        ["pulseaudio", "-D", "--exit-idle-time=-1", "-n",
         "--load=module-null-sink sink_name=vt_sink", "--load=module-native-protocol-unix"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if started.returncode != 0:
        sound_server_unavailable(
            f"PulseAudio cannot start here: {started.stderr.strip().splitlines()[-1:]}"
        )
    for command in (["pactl", "set-default-sink", "vt_sink"],
                    ["pactl", "set-default-source", "vt_sink.monitor"]):  # fmt: skip
        subprocess.run(command, env=env, check=True, timeout=30)
    yield env
    pid_file = runtime / "pulse" / "pid"
    if pid_file.is_file():
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
