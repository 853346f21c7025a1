"""A tiny recording reverse proxy with fault injection, in front of a real HTTP server.

Put it between `StripeGateway` and localstripe to see exactly what goes on the
wire (method, path, headers such as `Idempotency-Key`) and to make the network
misbehave the way Stripe's sometimes does:

- `fail_next(n, status=503)`: answer the next n requests with a 503/429/500
  *without forwarding them* (Stripe overloaded or rate limiting: nothing ran);
- `drop_after_forward(n)`: forward the next n requests, let the server act,
  then close the connection without an answer, optionally after a pause (a
  timeout *after* the charge succeeded: the outcome is unknown to the client).

It imitates nothing of Stripe; every forwarded request is answered by the real
server behind it.

    with RecordingProxy("http://127.0.0.1:8421") as proxy:
        gateway = StripeGateway("sk_test_x", api_base=proxy.url)
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Not forwarded as such: they describe one hop, not the request.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the proxy received it, and what it did with it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    outcome: str  # "forwarded", "failed:<status>" or "dropped"

    def header(self, name: str) -> str | None:
        """A header's value, by case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass
class _Faults:
    fail: list[tuple[int, str | None]] = field(default_factory=list)  # (status, method)
    drop: list[tuple[float, str | None]] = field(default_factory=list)  # (pause, method)


class RecordingProxy:
    """A reverse proxy on 127.0.0.1 (free port) that records and can fail requests."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port
        self.requests: list[RecordedRequest] = []
        self._faults = _Faults()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> RecordingProxy:
        """Listen on a free loopback port and serve in a background thread."""
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give the client instead of the upstream's."""
        assert self._server is not None, "start() the proxy first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- fault injection ----------------------------------------------------

    def fail_next(self, count: int = 1, *, status: int = 503, method: str | None = None) -> None:
        """Answer the next `count` requests (of `method`, if given) with `status`, unforwarded."""
        with self._lock:
            self._faults.fail.extend([(status, method)] * count)

    def drop_after_forward(
        self, count: int = 1, *, pause: float = 0.0, method: str | None = None
    ) -> None:
        """Forward the next `count` requests, then close the connection without answering.

        With `pause` longer than the client's timeout the client times out
        instead of seeing the connection close.
        """
        with self._lock:
            self._faults.drop.extend([(pause, method)] * count)

    def _take(self, faults: list, method: str) -> tuple | None:
        with self._lock:
            for i, fault in enumerate(faults):
                if fault[1] is None or fault[1] == method:
                    return faults.pop(i)
        return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # --- assertions helpers -------------------------------------------------

    def posts(self) -> list[RecordedRequest]:
        """Every POST seen so far, faulted or not."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    def clear(self) -> None:
        """Forget what was recorded (faults still pending stay)."""
        with self._lock:
            self.requests.clear()


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: RecordingProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session expects
    timeout = 30  # an idle keep-alive connection does not pin a thread for ever

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: tests read `proxy.requests` instead."""

    def _handle(self) -> None:
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}

        def record(outcome: str) -> None:
            owner._record(RecordedRequest(self.command, self.path, headers, body, outcome))

        failure = owner._take(owner._faults.fail, self.command)
        if failure is not None:
            status = failure[0]
            record(f"failed:{status}")
            self._answer_error(status)
            return

        drop = owner._take(owner._faults.drop, self.command)
        status, response_headers, response_body = self._forward(body)
        if drop is not None:
            record("dropped")
            time.sleep(drop[0])
            self.close_connection = True  # nothing written: the client sees the line go dead
            return

        record("forwarded")
        self.send_response(status)
        for name, value in response_headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response_body)))
        self.end_headers()
        self.wfile.write(response_body)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        owner = self.owner
        conn = http.client.HTTPConnection(owner.upstream_host, owner.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def _answer_error(self, status: int) -> None:
        # Stripe's error shape, so the SDK builds its usual exception.
        kind = "rate_limit_error" if status == 429 else "api_error"
        payload = json.dumps(
            {"error": {"type": kind, "message": f"Injected {status} by RecordingProxy."}}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
