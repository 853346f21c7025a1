"""Fixtures for the real localstripe server, run as a subprocess for the test session.

- `localstripe_url`: `python -m webapp.dev.fakestripe --no-store` on a free
  loopback port, started once per session, always terminated at the end;
- `stripe_gateway`: a `StripeGateway` pointed at it;
- `register_localstripe_webhook`: registers a webhook endpoint with the server
  (`POST /_config/webhooks/{id}`) and silences it again after the test.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from billing.gateway.stripe_adapter import StripeGateway

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_SECRET_KEY = "sk_test_acompte"
STARTUP_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's choice, never 8420/5000)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/js.stripe.com/v3/", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a localstripe server private to this test session."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("localstripe") / "server.log"
    command = [sys.executable, "-m", "webapp.dev.fakestripe"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-store"]
    with log_path.open("wb") as log:
        # The child keeps its own copy of the log descriptor.
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(url):
            if process.poll() is not None:
                pytest.fail(
                    f"localstripe exited with {process.returncode}:\n{log_path.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"localstripe did not answer on {url}:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def stripe_gateway(localstripe_url: str) -> Iterator[StripeGateway]:
    """A `StripeGateway` on the session's localstripe server."""
    # Imported here so that loading this plugin never loads the stripe SDK.
    from billing.gateway.stripe_adapter import StripeGateway

    with StripeGateway(TEST_SECRET_KEY, api_base=localstripe_url) as gateway:
        yield gateway


def _post_webhook_config(base_url: str, webhook_id: str, config: dict[str, object]) -> None:
    request = urllib.request.Request(
        f"{base_url}/_config/webhooks/{webhook_id}",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        if response.status != 200:
            raise RuntimeError(f"localstripe refused the webhook config: {response.status}")


def register_webhook(
    base_url: str,
    url: str,
    secret: str,
    events: list[str] | None = None,
    webhook_id: str | None = None,
) -> str:
    """Tell localstripe to POST signed events to `url`; returns the endpoint id."""
    webhook_id = webhook_id or f"we_{uuid.uuid4().hex[:12]}"
    config: dict[str, object] = {"url": url, "secret": secret}
    if events is not None:
        config["events"] = events
    _post_webhook_config(base_url, webhook_id, config)
    return webhook_id


@pytest.fixture
def register_localstripe_webhook(localstripe_url: str) -> Iterator[Callable[..., str]]:
    """A factory `register(url, secret, events=None) -> id`; endpoints go quiet after the test.

    localstripe cannot delete an endpoint, and the server lives for the whole
    session, so teardown re-registers each id with an empty event list.
    """
    registered: list[str] = []

    def register(url: str, secret: str, events: list[str] | None = None) -> str:
        webhook_id = register_webhook(localstripe_url, url, secret, events)
        registered.append(webhook_id)
        return webhook_id

    yield register
    for webhook_id in registered:
        _post_webhook_config(
            localstripe_url,
            webhook_id,
            {"url": "http://127.0.0.1:9/disabled", "secret": "disabled", "events": []},
        )
