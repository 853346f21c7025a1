"""Browser-test infrastructure, shared by every client-facing feature.

- `live_server`: the real app (migrated SQLite file, the session's localstripe
  server as Stripe, its Stripe.js, a webhook registered back to us) served over
  HTTP on a free loopback port in a thread; `.url`, `.app`, `.client` (a test
  client on the same database, to set data up through the API).
- `browser`: Debian's chromium driven by Playwright, once per session. Missing
  chromium fails the run in CI (CI=true or REQUIRE_BROWSER=1) and skips with the
  reason elsewhere. Never a downloaded browser.
- `page` (desktop) and `mobile_page` (a phone): a fresh context per test;
  uncaught page errors are collected in `page.errors`; a Content-Security-Policy
  violation reported in the console fails the test.
- `artifact(name, page)`: a full-page screenshot in test-artifacts/<name>.png.

Mark the tests `@pytest.mark.browser`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import ARTIFACTS, base_config
from tests.support.requirements import unavailable

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
BROWSER_TIMEZONE = "Europe/Paris"
PUBLISHABLE_KEY = "pk_test_browser"


class QuietHandler(WSGIRequestHandler):
    """No access log: client links carry tokens in their query strings."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class LiveServer:
    """The app served over HTTP for a real browser."""

    url: str
    app: Flask

    @property
    def client(self) -> FlaskClient:
        """A test client on the same app and database (API setup without a browser)."""
        return self.app.test_client()


@pytest.fixture
def live_server_config(database_url: str, tmp_path: Path, localstripe_url: str) -> dict[str, Any]:
    """Override in a test module to change settings of the served app."""
    config = base_config(database_url, tmp_path)
    config.update(
        STRIPE_API_BASE=localstripe_url,
        STRIPE_JS_URL=f"{localstripe_url}/js.stripe.com/v3/",
        STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
    )
    return config


@contextmanager
def serving(config: dict[str, Any], register_webhook: Callable[..., str]) -> Iterator[LiveServer]:
    """The app built from `config`, on 127.0.0.1:<free port> in a thread, with its
    webhook registered at localstripe; stopped (and its engine closed) on exit."""
    from webapp import create_app
    from webapp.extensions import db, limiter

    app = create_app(config)
    if app.config.get("RATELIMIT_ENABLED", True):
        limiter.reset()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url
    register_webhook(f"{url}/stripe/webhook", app.config["STRIPE_WEBHOOK_SECRET"])
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=url, app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
        db.engine.dispose()


@pytest.fixture
def live_server(
    live_server_config: dict[str, Any], register_localstripe_webhook: Callable[..., str]
) -> Iterator[LiveServer]:
    """The real app on 127.0.0.1:<free port>, in a thread, stopped after the test."""
    with serving(live_server_config, register_localstripe_webhook) as served:
        yield served


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium through Playwright, shared by the session's browser tests."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        reason = (
            f"browser tests need Debian's chromium at {CHROMIUM} "
            "(run scripts/system-deps.sh, or apt-get install chromium)"
        )
        unavailable("browser", reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _new_page(browser: Any, **options: Any) -> Iterator[Any]:
    context = browser.new_context(timezone_id=BROWSER_TIMEZONE, **options)
    # Generous for a CI machine running three test workers at once; a page that
    # never answers still fails.
    context.set_default_timeout(20_000)
    context.set_default_navigation_timeout(30_000)
    page = context.new_page()
    page.errors = []  # uncaught exceptions in the page: a test can assert there are none
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    # Chromium enforces the app's Content-Security-Policy: any refusal it reports
    # (a script, frame, fetch or style the policy forgot) fails the test.
    page.csp_violations = []
    page.on("console", lambda message: _note_csp_violation(page, message))
    try:
        yield page
        violations = list(page.csp_violations)
        assert not violations, f"Content-Security-Policy violations: {violations}"
    finally:
        context.close()


def _note_csp_violation(page: Any, message: Any) -> None:
    if "Content Security Policy" in message.text:
        page.csp_violations.append(message.text)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop page in a fresh context (cookies, storage) of its own, in English."""
    yield from _new_page(browser, viewport=DESKTOP, locale="en-GB")


@pytest.fixture
def mobile_page(browser: Any) -> Iterator[Any]:
    """A phone-sized touch page in a fresh context, in English."""
    yield from _new_page(
        browser,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="en-GB",
    )


@pytest.fixture
def artifact() -> Callable[..., Path]:
    """`artifact(name, page)`: a full-page screenshot saved as test-artifacts/<name>.png.

    Without a page, returns the path only (for other artefacts: HTML, PDF…).
    """
    ARTIFACTS.mkdir(exist_ok=True)

    def save(name: str, page: Any | None = None) -> Path:
        path = ARTIFACTS / (name if "." in name else f"{name}.png")
        if page is not None:
            page.screenshot(path=str(path), full_page=True)
        return path

    return save
