"""A small Hugging Face Hub on 127.0.0.1 for ``voxtune push``: the routes huggingface_hub's
``create_repo`` and ``create_commit`` call, and a record of everything they sent.

The routes (read from huggingface_hub's ``hf_api.py``, ``_commit_api.py`` and ``lfs.py``):

* ``POST /api/repos/create``: creates the repository (409 when it exists, as the Hub does).
* ``POST /api/validate-yaml``: the card's metadata must be a YAML mapping.
* ``POST /api/models/ORG/NAME/preupload/REV``: which files go as LFS objects; like the Hub's
  default ``.gitattributes``, weights and anything over 1 MB do, the rest inline.
* ``POST /ORG/NAME.git/info/lfs/objects/batch``: where to PUT each object (``basic``
  transfer); ``PUT /lfs/OID`` stores it after checking its sha256; ``POST /lfs/verify``.
* ``POST /api/models/ORG/NAME/commit/REV``: the NDJSON commit; inline files are decoded, LFS
  files must name an object uploaded before.

Run the client with ``HF_HUB_DISABLE_XET=1``: with hf_xet installed huggingface_hub would
otherwise send LFS objects to Xet storage, a service of its own. Every other request is
answered 404 and listed in ``unexpected``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

LFS_SUFFIXES = (".safetensors", ".onnx", ".bin", ".gguf")
LFS_THRESHOLD = 1_000_000


@dataclass
class Repository:
    visibility: str | None
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict] = field(default_factory=list)


@dataclass
class HubRecord:
    repos: dict[str, Repository] = field(default_factory=dict)
    objects: dict[str, bytes] = field(default_factory=dict)  # LFS objects by sha256
    lfs_files: set[tuple[str, str]] = field(default_factory=set)  # (repo, path) sent as LFS
    authorizations: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)  # "POST /api/repos/create", in order
    unexpected: list[str] = field(default_factory=list)


class FakeHub:
    """``token``: the one the Hub accepts; API calls with another get 401, as on the Hub."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.record = HubRecord()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


REPO = r"(?P<repo>[\w.-]+/[\w.-]+)"
ROUTES = (
    ("POST", re.compile(r"^/api/repos/create$"), "create"),
    ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
    ("POST", re.compile(rf"^/api/models/{REPO}/preupload/(?P<rev>[^/]+)$"), "preupload"),
    ("POST", re.compile(rf"^/{REPO}\.git/info/lfs/objects/batch$"), "lfs_batch"),
    ("PUT", re.compile(r"^/lfs/(?P<oid>[0-9a-f]{64})$"), "lfs_put"),
    ("POST", re.compile(r"^/lfs/verify$"), "lfs_verify"),
    ("POST", re.compile(rf"^/api/models/{REPO}/commit/(?P<rev>[^/]+)$"), "commit"),
    # huggingface_hub's best-effort, unauthenticated look-up of AI agent names (it swallows a
    # failure): not part of a push, and not served here.
    ("GET", re.compile(r"^/api/agent-harnesses$"), "not_served"),
)


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet: the record says what came
            pass

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_GET(self) -> None:
            self._route("GET")

        def _route(self, method: str) -> None:
            body = self._body()
            path = self.path.split("?", 1)[0]
            with hub.lock:
                hub.record.authorizations.append(self.headers.get("Authorization", ""))
                hub.record.routes.append(f"{method} {path}")
                for verb, pattern, name in ROUTES:
                    match = pattern.match(path)
                    if verb == method and match:
                        # The PUT goes to storage by a signed address, with no token.
                        if name not in ("not_served", "lfs_put") and not self._known():
                            status, answer = (
                                401,
                                {"error": "Invalid credentials in Authorization header"},
                            )
                        else:
                            status, answer = getattr(self, name)(body, **match.groupdict())
                        break
                else:
                    hub.record.unexpected.append(f"{method} {path}")
                    status, answer = 404, {"error": "no such route"}
            self._send(status, answer)

        def _known(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {hub.token}"

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                return self.rfile.read(length)
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return b""

        def _send(self, status: int, answer: dict) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        # -- routes: each returns (status, JSON answer) -------------------------------

        def not_served(self, body: bytes) -> tuple[int, dict]:
            return 404, {"error": "not served by this hub"}

        def create(self, body: bytes) -> tuple[int, dict]:
            payload = json.loads(body)
            repo_id = f"{payload['organization']}/{payload['name']}"
            if repo_id in hub.record.repos:
                # As the Hub answers: huggingface_hub's exist_ok reads the url from it.
                return 409, {
                    "error": "You already created this model repo",
                    "url": f"{hub.endpoint}/{repo_id}",
                }
            hub.record.repos[repo_id] = Repository(visibility=payload.get("visibility"))
            return 200, {"url": f"{hub.endpoint}/{repo_id}", "name": repo_id}

        def validate_yaml(self, body: bytes) -> tuple[int, dict]:
            content = json.loads(body)["content"]
            _, front, _ = content.split("---\n", 2)
            if not isinstance(yaml.safe_load(front), dict):
                return 400, {"errors": [{"message": "metadata is not a mapping"}]}
            return 200, {"errors": [], "warnings": []}

        def preupload(self, body: bytes, repo: str, rev: str) -> tuple[int, dict]:
            if repo not in hub.record.repos:
                return 404, {"error": "Repository not found"}
            files = json.loads(body)["files"]
            return 200, {
                "files": [
                    {
                        "path": f["path"],
                        "uploadMode": "lfs"
                        if f["path"].endswith(LFS_SUFFIXES) or f["size"] > LFS_THRESHOLD
                        else "regular",
                        "shouldIgnore": False,
                        "oid": None,
                    }
                    for f in files
                ]
            }

        def lfs_batch(self, body: bytes, repo: str) -> tuple[int, dict]:
            objects = json.loads(body)["objects"]
            return 200, {
                "transfer": "basic",
                "objects": [
                    {
                        "oid": o["oid"],
                        "size": o["size"],
                        "authenticated": True,
                        "actions": {
                            "upload": {"href": f"{hub.endpoint}/lfs/{o['oid']}"},
                            "verify": {"href": f"{hub.endpoint}/lfs/verify"},
                        },
                    }
                    for o in objects
                ],
            }

        def lfs_put(self, body: bytes, oid: str) -> tuple[int, dict]:
            if hashlib.sha256(body).hexdigest() != oid:
                return 400, {"error": "sha256 does not match the object id"}
            hub.record.objects[oid] = body
            return 200, {}

        def lfs_verify(self, body: bytes) -> tuple[int, dict]:
            payload = json.loads(body)
            stored = hub.record.objects.get(payload["oid"])
            ok = stored is not None and len(stored) == payload["size"]
            return (200, {}) if ok else (404, {"error": "object not uploaded"})

        def commit(self, body: bytes, repo: str, rev: str) -> tuple[int, dict]:
            if repo not in hub.record.repos:
                return 404, {"error": "Repository not found"}
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            files: dict[str, bytes] = {}
            for line in lines[1:]:
                value = line["value"]
                if line["key"] == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif line["key"] == "lfsFile":
                    if value["oid"] not in hub.record.objects:
                        return 422, {"error": f"{value['path']}: LFS object not uploaded"}
                    files[value["path"]] = hub.record.objects[value["oid"]]
                    hub.record.lfs_files.add((repo, value["path"]))
                else:
                    return 400, {"error": f"unexpected operation {line['key']}"}
            stored = hub.record.repos[repo]
            stored.files.update(files)
            stored.commits.append(lines[0]["value"])
            oid = hashlib.sha1(body).hexdigest()
            return 200, {
                "commitUrl": f"{hub.endpoint}/{repo}/commit/{oid}",
                "commitOid": oid,
                "pullRequestUrl": None,
            }

    return Handler
