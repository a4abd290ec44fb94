"""A local Hub to download from: one folder served as one model repository (uploads: hub_server.py).

``huggingface_hub`` honours ``HF_ENDPOINT``, so a pull pointed here runs the real download
code — repository info, the file tree, HEAD then GET on ``resolve`` URLs — against real bytes.
``rate`` (bytes a second) paces the file bodies so that a test can watch the progress and
cancel part-way; ``sent`` counts the body bytes that actually left.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SHA = "0123456789abcdef0123456789abcdef01234567"  # the repository's one commit
PIECE = 64 * 1024


class FakeHub:
    def __init__(self, repo_id: str, folder: Path, rate: float | None = None) -> None:
        self.repo_id = repo_id
        self.files = {
            p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()
        }
        self.rate = rate
        self.sent = 0
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _count(self, n: int) -> None:
        with self._lock:
            self.sent += n

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _json(self, data: object) -> None:
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _answer(self, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                api = f"/api/models/{hub.repo_id}"
                resolve = f"/{hub.repo_id}/resolve/"
                if path.startswith(f"{api}/revision/"):
                    siblings = [{"rfilename": name} for name in hub.files]
                    self._json({"id": hub.repo_id, "sha": SHA, "siblings": siblings})
                elif path.startswith(f"{api}/tree/"):
                    self._json([
                        {"type": "file", "oid": _oid(p), "size": p.stat().st_size, "path": name}
                        for name, p in hub.files.items()
                    ])  # fmt: skip
                elif path.startswith(resolve) and (name := _file_name(path, resolve)) in hub.files:
                    self._file(hub.files[name], body)
                else:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "RepoNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def _file(self, path: Path, body: bool) -> None:
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{_oid(path)}"')
                self.send_header("X-Repo-Commit", SHA)
                self.end_headers()
                if not body:
                    return
                for at in range(0, len(data), PIECE):
                    piece = data[at : at + PIECE]
                    try:
                        self.wfile.write(piece)
                    except OSError:  # the client hung up: a cancelled download
                        return
                    hub._count(len(piece))
                    if hub.rate:
                        time.sleep(len(piece) / hub.rate)

        return Handler


def _file_name(path: str, resolve: str) -> str:
    """``/org/name/resolve/<revision>/<file>`` → ``<file>``."""
    return path[len(resolve) :].split("/", 1)[-1]


def _oid(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()
