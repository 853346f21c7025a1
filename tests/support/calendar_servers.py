"""Calendar servers for tests, on 127.0.0.1 only: Radicale (CalDAV, from PyPI) and an ICS feed.

Both pick a free port and are stopped by the fixture that started them.
Radicale that cannot start is a failure, not a skip: it is a test
dependency installed with the project, so its absence is a broken install.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

USERS = {"alice": "alice-app-password", "bob": "bob-app-password"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    """Return once something accepts connections on the port, else fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def radicale(workdir: Path) -> Iterator[str]:
    """A Radicale server with the `USERS` (plain htpasswd); yields its base URL."""
    users = workdir / "users"
    users.write_text("".join(f"{name}:{password}\n" for name, password in USERS.items()))
    port = free_port()
    log = (workdir / "radicale.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--config",
            "",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(workdir / "collections"),
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(users),
            "--auth-htpasswd-encryption",
            "plain",
            "--rights-type",
            "owner_only",
            "--logging-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        try:
            wait_for_port(port)
        except RuntimeError:
            process.kill()
            process.wait()
            log.flush()
            err = (workdir / "radicale.log").read_text(errors="replace")
            raise RuntimeError(f"Radicale did not start: {err}") from None
        yield f"http://127.0.0.1:{port}/"
    finally:
        log.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Feed:
    """ICS documents served by path, with ETags; `requests` counts the GETs."""

    documents: dict[str, bytes] = field(default_factory=dict)
    # path → where it redirects (302)
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def start(self) -> None:
        """Serve on `port` (a free one the first time; the same one after `stop`)."""
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.lstrip("/")
                feed.requests.append(path)
                if path in feed.redirects:
                    self.send_response(302)
                    self.send_header("Location", feed.redirects[path])
                    self.end_headers()
                    return
                body = feed.documents.get(path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Go down: connections are refused until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def ics_feed() -> Iterator[Feed]:
    """An ICS feed server on a free loopback port, stopped afterwards."""
    feed = Feed()
    feed.start()
    try:
        yield feed
    finally:
        feed.stop()
