"""Models from the Hugging Face Hub: ``org/name`` ids, fetched with ``snapshot_download``.

Resolving an id looks in the local Hugging Face cache only; ``pull_model`` is the one call that
goes to the network. Only safetensors weights and configuration files are fetched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from voxtune.engine.errors import ModelError
from voxtune.engine.models.info import ModelInfo

if TYPE_CHECKING:
    from voxtune.engine.models.download_meter import DownloadMeter

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
# Weights only as safetensors; never pickled checkpoints or remote code.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]


def _check_id(repo_id: str) -> None:
    if not REPO_ID.match(repo_id):
        raise ModelError(f"'{repo_id}': not a Hugging Face Hub id (expected org/name)")


def cached_hub_model(repo_id: str) -> ModelInfo:
    """A Hub model already in the local cache, or ModelError saying it must be fetched."""
    _check_id(repo_id)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = snapshot_download(repo_id, allow_patterns=ALLOW_PATTERNS, local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        return pull_model(repo_id)
    return _hub_info(repo_id, Path(folder))


def pull_model(repo_id: str, meter: DownloadMeter | None = None) -> ModelInfo:
    """Download (or update) ``repo_id`` into the Hugging Face cache; ``meter`` counts its
    bytes and may stop it (``DownloadCancelled``)."""
    _check_id(repo_id)
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    watched = {}
    if meter is not None:
        from voxtune.engine.models.download_meter import WATCHED_CHUNK_BYTES

        constants.DOWNLOAD_CHUNK_SIZE = min(constants.DOWNLOAD_CHUNK_SIZE, WATCHED_CHUNK_BYTES)
        watched = {"tqdm_class": meter.bar_class()}
    try:
        folder = snapshot_download(repo_id, allow_patterns=ALLOW_PATTERNS, **watched)
    except RepositoryNotFoundError as exc:
        raise ModelError(f"{repo_id}: no such model on the Hugging Face Hub") from exc
    except GatedRepoError as exc:
        raise ModelError(f"{repo_id}: gated on the Hugging Face Hub (log in and accept)") from exc
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, HfHubHTTPError, OSError) as exc:
        raise ModelError(
            f"cannot reach the Hugging Face Hub to fetch {repo_id} (offline?)"
        ) from exc
    return _hub_info(repo_id, Path(folder))


def _hub_info(repo_id: str, folder: Path) -> ModelInfo:
    from voxtune.engine.models.registry import hf_directory_info

    info = hf_directory_info(folder, "hub")
    return ModelInfo(
        name=repo_id,
        family=info.family,
        languages=info.languages,
        size_bytes=info.size_bytes,
        location=info.location,
        source="hub",
    )
