"""`RecordingProxy` plus faults aimed at one Stripe write, chosen by method and path.

The fault-injection suite (tests/integration/test_faults_*.py) needs to stop a
process at one precise Stripe write of a flow, not at "the next POST":

- `hold(method, path)`: forward the matching request, let localstripe act,
  then keep the answer back and set `fault.reached`. The test kills the client
  (SIGKILL) while its answer is held, then `fault.release()` closes the
  connection without an answer. Stripe did the write; the client never knew.
- `hold(method, path, forward=False)`: the same, but the request is never
  forwarded: the client dies before anything happened at Stripe.
- `drop(method, path)`: forward, let the server act, close the connection at
  once. The SDK retries a dead connection by itself (same idempotency key):
  with `network_down=True` those repeats (same `Idempotency-Key`) are cut too,
  unforwarded, until `fault.release()`, so the client really sees the error;
  without it they reach the server (which, being localstripe, acts again).

Paths are regular expressions matched against the whole path, query string
excluded: `r"/v1/payment_intents"`, `r"/v1/payment_intents/[^/]+/capture"`.
Each fault fires once, on the first matching request. Everything else is
forwarded untouched and recorded as `RecordingProxy` records it.

    with FaultProxy(localstripe_url) as proxy:
        fault = proxy.hold("POST", r"/v1/payment_intents")
        ...  # start the client
        fault.wait()  # Stripe has acted; the answer is held
        ...  # SIGKILL the client
        fault.release()
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

from tests.support.recording_proxy import RecordedRequest, RecordingProxy, _ProxyHandler

HOLD_LIMIT = 60.0  # a held answer is let go after this even if the test forgot it


@dataclass
class Fault:
    """One armed fault; `reached` is set once it fired (after the forward, if any)."""

    method: str
    path: re.Pattern[str]
    kind: str  # "hold", "hold_unforwarded" or "drop"
    network_down: bool = False  # drop: cut repeats of the same key until released
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    request: RecordedRequest | None = None
    upstream_status: int | None = None
    upstream_body: bytes = b""

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.path.fullmatch(path.split("?", 1)[0]) is not None

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the fault fired; False on timeout."""
        return self.reached.wait(timeout)

    def release(self) -> None:
        """Let the held connection close (without an answer)."""
        self.released.set()


class FaultProxy(RecordingProxy):
    """A `RecordingProxy` that can also hold or drop one chosen request."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.faults: list[Fault] = []

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_FaultHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for fault in self.faults:
            fault.release()
        super().stop()

    def __enter__(self) -> FaultProxy:
        return self.start()

    # --- faults by path ------------------------------------------------------

    def hold(self, method: str, path: str, *, forward: bool = True) -> Fault:
        """Arm a hold of the first `method path` request (see the module docstring)."""
        return self._arm(method, path, "hold" if forward else "hold_unforwarded")

    def drop(self, method: str, path: str, *, network_down: bool = False) -> Fault:
        """Arm a drop-after-forward of the first `method path` request."""
        return self._arm(method, path, "drop", network_down)

    def _arm(self, method: str, path: str, kind: str, network_down: bool = False) -> Fault:
        fault = Fault(method.upper(), re.compile(path), kind, network_down)
        with self._lock:
            self.faults.append(fault)
        return fault

    def _cut(self, key: str | None) -> bool:
        """Whether a repeat of a dropped write must be cut (the network still down)."""
        if key is None:
            return False
        with self._lock:
            return any(
                f.network_down
                and f.reached.is_set()
                and not f.released.is_set()
                and f.request is not None
                and f.request.header("Idempotency-Key") == key
                for f in self.faults
            )

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.request is None and fault.matches(method, path):
                    # Claimed: the real RecordedRequest replaces this before `reached`.
                    fault.request = RecordedRequest(method, path, {}, b"", "claimed")
                    return fault
        return None

    def matching(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests of `method` whose path matches the regular expression `path`."""
        pattern = re.compile(path)
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == method.upper() and pattern.fullmatch(r.path.split("?", 1)[0])
            ]


class _FaultHandler(_ProxyHandler):
    owner: FaultProxy

    def _handle(self) -> None:
        owner = self.owner
        if owner._cut(self.headers.get("Idempotency-Key")):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            owner._record(RecordedRequest(self.command, self.path, headers, body, "cut"))
            self.close_connection = True
            return
        fault = owner._take_fault(self.command, self.path)
        if fault is None:
            super()._handle()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        if fault.kind != "hold_unforwarded":
            fault.upstream_status, _, fault.upstream_body = self._forward(body)
        outcome = {"hold": "held", "hold_unforwarded": "held_unforwarded", "drop": "dropped"}
        request = RecordedRequest(self.command, self.path, headers, body, outcome[fault.kind])
        fault.request = request
        owner._record(request)
        fault.reached.set()
        if fault.kind != "drop":
            fault.released.wait(HOLD_LIMIT)
        # Nothing written: the client sees the line go dead (if it is still alive).
        self.close_connection = True
