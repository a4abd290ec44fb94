"""Model commands in the engine: list, import, pull (with byte progress) and remove.

Imports and pulls run on a ``Worker``; a watcher thread measures the bytes they have written
so far (the staging folder under the models folder; for a pull, the download's own counts and
total) and sends ``ModelProgress`` twice a second. When one ends, ``ModelsChanged`` carries
the new listing, so the Models tab updates the moment the files are in place.
``CancelModelTask`` stops a pull at its next chunk and deletes what it had fetched (the
repository's cache folder if the pull made it, else its unfinished blobs).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from voxtune.engine import protocol as p
from voxtune.engine.errors import ModelError
from voxtune.engine.home import models_dir
from voxtune.engine.models.download_meter import DownloadCancelled, DownloadMeter
from voxtune.engine.process.workers import Emit, Worker

PROGRESS_S = 0.5
REMOVABLE_SOURCES = ("imported", "adapter")  # folders Voxtune made; never the built-ins
HUB = "hub"  # a snapshot in the Hugging Face cache: removed by deleting its repository there


def model_entries() -> tuple[p.ModelEntry, ...]:
    from voxtune.engine.families.qwen3_asr.registry import DOWNLOAD_BYTES
    from voxtune.engine.models import list_models

    root = models_dir().resolve()
    entries = []
    for info in list_models():
        location = Path(info.location)
        own = location.resolve().parent == root
        entries.append(
            p.ModelEntry(
                name=info.name,
                family=info.family,
                languages=tuple(info.languages),
                size_bytes=info.size_bytes,
                location=str(location),
                source=info.source,
                removable=(own and info.source in REMOVABLE_SOURCES)
                or (info.source == HUB and _hub_repo(location) is not None),
                download_bytes=0 if info.size_bytes else DOWNLOAD_BYTES.get(info.name, 0),
            )
        )
    listed = {Path(e.location).resolve() for e in entries}
    entries.extend(e for e in _pulled_entries() if Path(e.location).resolve() not in listed)
    return tuple(entries)


def _pulled_entries() -> list[p.ModelEntry]:
    """Models pulled by Hub id (``org/name``): their newest snapshot in the Hugging Face
    cache, when it is a model Voxtune can load (other repositories there are not listed)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    from voxtune.engine.models.registry import hf_directory_info

    try:
        cache = scan_cache_dir()
    except CacheNotFound:
        return []
    entries = []
    for repo in sorted(cache.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model" or not repo.revisions:
            continue
        newest = max(repo.revisions, key=lambda r: r.last_modified)
        try:
            info = hf_directory_info(Path(newest.snapshot_path), HUB)
        except ModelError:
            continue  # not a model folder Voxtune reads (a tokenizer, a dataset's helper…)
        entries.append(
            p.ModelEntry(
                name=repo.repo_id,
                family=info.family,
                languages=tuple(info.languages),
                size_bytes=repo.size_on_disk,
                location=str(newest.snapshot_path),
                source=HUB,
                removable=True,
            )
        )
    return entries


def _hub_repo(location: Path) -> Path | None:
    """The Hugging Face cache folder (``models--org--name``) holding ``location``, if any."""
    from huggingface_hub.constants import HF_HUB_CACHE

    cache = Path(HF_HUB_CACHE).resolve()
    try:
        parts = location.resolve().relative_to(cache).parts
    except ValueError:
        return None
    return cache / parts[0] if parts and parts[0].startswith("models--") else None


def _remove_hub_repo(folder: Path) -> None:
    """Delete a repository from the Hugging Face cache with its own tool (every revision, so
    the blobs go too and the folder with them)."""
    from huggingface_hub import scan_cache_dir

    cache = scan_cache_dir()
    revisions = [
        r.commit_hash
        for repo in cache.repos
        if repo.repo_path.resolve() == folder.resolve()
        for r in repo.revisions
    ]
    cache.delete_revisions(*revisions).execute()
    shutil.rmtree(folder, ignore_errors=True)  # refs and locks left behind


def tree_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:  # a staging file renamed or removed while we walk
            continue
    return total


class ModelTasks:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.worker = Worker("voxtune-models", emit)
        self._meters: dict[int, DownloadMeter] = {}  # a pull's seq → its meter, while it runs

    def list(self, command: p.ListModels) -> None:
        self._emit(p.ModelsListed(models=model_entries(), reply_to=command.seq))

    def import_folder(self, command: p.ImportModel) -> None:
        def task() -> None:
            from voxtune.engine.models.registry import import_folder

            source = Path(command.path).expanduser()
            name = command.name or source.resolve().name
            total = tree_bytes(source) if source.is_dir() else None
            with self._progress("import", name, models_dir(), total, command.seq):
                info = import_folder(source, name=command.name)
            self._changed(info.name, "imported", command.seq)

        self.worker.submit(command, task)

    def pull(self, command: p.PullModel) -> None:
        def task() -> None:
            from huggingface_hub.constants import HF_HUB_CACHE

            from voxtune.engine.models.registry import fetch_model

            # The repository's own folder in the cache: its blobs grow as they download.
            folder = Path(HF_HUB_CACHE) / ("models--" + command.repo_id.replace("/", "--"))
            existed = folder.exists()
            meter = self._meters.setdefault(command.seq, DownloadMeter())
            progress = self._progress("pull", command.repo_id, folder, None, command.seq, meter)
            try:
                if meter.cancelled:  # cancelled while it waited for the worker
                    raise DownloadCancelled("download cancelled")
                with progress:
                    info = fetch_model(command.repo_id, meter)
            except DownloadCancelled:
                _discard(folder, existed)
                self._changed(command.repo_id, "cancelled", command.seq)
                return
            finally:
                self._meters.pop(command.seq, None)
            self._changed(info.name, "pulled", command.seq)

        self._meters[command.seq] = DownloadMeter()
        self.worker.submit(command, task)

    def cancel(self, task: int) -> None:
        """Stop the pull sent as ``task``; it answers ModelsChanged(action="cancelled")."""
        meter = self._meters.get(task)
        if meter is None:
            raise ModelError(f"cancel_model_task: no download {task} is running")
        meter.cancel()

    def remove(self, command: p.RemoveModel) -> None:
        def task() -> None:
            entry = next((m for m in model_entries() if m.name == command.name), None)
            if entry is None:
                raise ModelError(f"remove_model: no model named {command.name!r}")
            if not entry.removable:
                raise ModelError(
                    f"remove_model: {command.name} is {entry.source}, not a folder Voxtune "
                    "imported or downloaded (built-in models cannot be removed)"
                )
            if entry.source == HUB and (repo := _hub_repo(Path(entry.location))) is not None:
                _remove_hub_repo(repo)
            else:
                shutil.rmtree(entry.location)
            self._changed(command.name, "removed", command.seq)

        self.worker.submit(command, task)

    def _changed(self, name: str, action: str, reply_to: int) -> None:
        self._emit(
            p.ModelsChanged(models=model_entries(), changed=name, action=action, reply_to=reply_to)
        )

    def _progress(
        self,
        task: str,
        name: str,
        folder: Path,
        total: int | None,
        reply_to: int,
        meter: DownloadMeter | None = None,
    ) -> _ProgressWatch:
        def send(done: int) -> None:
            known = total
            if meter is not None:
                counted, known = meter.bytes()
                done = counted or done  # the folder's growth if the download counts nothing
            self._emit(
                p.ModelProgress(
                    task=task, name=name, done_bytes=done, total_bytes=known, reply_to=reply_to
                )
            )

        return _ProgressWatch(folder, send)


def _discard(folder: Path, existed: bool) -> None:
    """What a cancelled pull fetched: the folder it made, or the blobs it left unfinished."""
    if not existed:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for partial in folder.glob("blobs/*.incomplete"):
        partial.unlink(missing_ok=True)


class _ProgressWatch:
    """Sends the bytes a folder grew by while the ``with`` block runs, on its own thread."""

    def __init__(self, folder: Path, send: Callable[[int], None]) -> None:
        self._folder = folder
        self._send = send
        self._done = threading.Event()
        self._start = tree_bytes(folder) if folder.is_dir() else 0
        self._thread = threading.Thread(target=self._watch, name="voxtune-progress", daemon=True)

    def _grown(self) -> int:
        return max(0, (tree_bytes(self._folder) if self._folder.is_dir() else 0) - self._start)

    def _watch(self) -> None:
        last = -1
        while not self._done.wait(PROGRESS_S):
            if (grown := self._grown()) != last:
                self._send(grown)
                last = grown

    def __enter__(self) -> _ProgressWatch:
        self._send(0)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()
        if exc_info[0] is None:
            self._send(self._grown())
