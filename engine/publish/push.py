"""``push``: a tune or an export folder to a Hugging Face Hub repository, with its card.

One commit: every publishable file of the folder (``contents.uploadable_files``) and the
generated ``README.md``; the folder itself is not changed. The token is read from the
environment (or huggingface_hub's login) and goes only into the requests' headers: it is
never printed, logged or put into an error message.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.publish.contents import CARD, FolderContents, read_folder

DEFAULT_TOKEN_ENV = "HF_TOKEN"


@dataclass(frozen=True)
class PushRequest:
    folder: Path
    repo_id: str  # "org/name"
    private: bool = False  # applies when the repository is created
    token_env: str | None = None  # None: HF_TOKEN, else huggingface_hub's saved login
    licence: str | None = None  # None: the base model's


@dataclass(frozen=True)
class PushResult:
    repo_url: str
    commit_url: str
    files: tuple[str, ...]  # as uploaded, README.md included


def prepare(request: PushRequest) -> tuple[FolderContents, str]:
    """(what the folder holds, the card's text): no network, no token."""
    from voxtune.engine.models.hub import REPO_ID
    from voxtune.engine.publish.card import build_card

    if not REPO_ID.match(request.repo_id):
        raise VoxtuneError(f"'{request.repo_id}': not a Hugging Face Hub id (expected org/name)")
    contents = read_folder(request.folder)
    return contents, str(build_card(contents, request.repo_id, request.licence))


def push(request: PushRequest) -> PushResult:
    contents, card = prepare(request)
    token = _token(request.token_env)
    try:
        return _upload(request, contents, card, token)
    except VoxtuneError:
        raise
    except Exception as exc:
        raise VoxtuneError(_explain(exc, request.repo_id, token)) from None


def _token(variable: str | None) -> str:
    if variable is not None:
        token = os.environ.get(variable, "").strip()
        if not token:
            raise VoxtuneError(f"no Hugging Face token: ${variable} is not set")
        return token
    from huggingface_hub import get_token

    token = get_token()  # HF_TOKEN, else the token `hf auth login` saved
    if not token:
        raise VoxtuneError(
            f"no Hugging Face token: set ${DEFAULT_TOKEN_ENV} (or --token-env VAR), "
            "or log in with `hf auth login`"
        )
    return token


def _upload(request: PushRequest, contents: FolderContents, card: str, token: str) -> PushResult:
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=token)
    # Not asked for private: the namespace's default visibility, as the Hub's own tools do.
    private = True if request.private else None
    repo = api.create_repo(request.repo_id, private=private, exist_ok=True)
    operations = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=content)
        for name, content in published_files(contents).items()
    ]
    operations.append(CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=card.encode()))
    commit = api.create_commit(
        request.repo_id,
        operations,
        commit_message=f"Upload {contents.root.name} with voxtune push",
    )
    return PushResult(str(repo), str(commit.commit_url), (*contents.files, CARD))


def published_files(contents: FolderContents) -> dict[str, str | bytes]:
    """Each file to upload: its path on disk, or for a record the bytes of its public copy."""
    from voxtune.engine.publish.records import base_names, is_record, public_record

    base = base_names(contents.base)
    published: dict[str, str | bytes] = {}
    for name in contents.files:
        path = contents.root / name
        public = public_record(path, base) if is_record(name) else None
        published[name] = public if public is not None else str(path)
    return published


def _explain(exc: Exception, repo_id: str, token: str) -> str:
    """One line for what went wrong; the token never in it, whatever a server echoed."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        line = "HF_HUB_OFFLINE is set: pushing needs the network"
    elif isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 401:
            line = f"{repo_id}: the Hub refused the token (401 Unauthorized)"
        elif status == 403:
            line = f"{repo_id}: the token may not write there (403 Forbidden)"
        else:
            line = f"{repo_id}: the Hub answered {status} ({_first_line(exc)})"
    elif isinstance(exc, _network_errors()):
        line = f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} (offline?): " + (
            _first_line(exc)
        )
    elif isinstance(exc, ValueError):  # the Hub's check of the card's metadata, say
        line = f"{repo_id}: {_first_line(exc)}"
    else:
        line = f"{repo_id}: push failed ({type(exc).__name__}: {_first_line(exc)})"
    return line.replace(token, "***")


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _network_errors() -> tuple[type[BaseException], ...]:
    """OSError (OfflineModeIsEnabled is one) and the HTTP client's transport errors:
    huggingface_hub's client library has changed across versions (requests, httpx, httpx2)."""
    errors: list[type[BaseException]] = [OSError]
    # Only a library already loaded can have raised: none is imported to be asked.
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"),
                         ("requests", "ConnectionError")):  # fmt: skip
        error = getattr(sys.modules.get(module), name, None)
        if isinstance(error, type) and issubclass(error, BaseException):
            errors.append(error)
    return tuple(errors)
