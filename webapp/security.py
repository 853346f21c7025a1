"""Security headers on every response: one after-request hook, installed by `create_app`.

- `Content-Security-Policy`: everything from our own origin, plus Stripe.js
  (the configured `STRIPE_JS_URL`'s origin: js.stripe.com with real keys, the
  fake server in development and tests), its frames (3-D Secure on
  js.stripe.com / hooks.stripe.com) and its API calls. No inline script runs
  (the pages' `<script type="application/json">` blocks are data, not code);
  `<style>` elements must come from our files, `style=""` attributes are
  allowed. `frame-ancestors 'none'`: no page can be framed (clickjacking on a
  payment page), with `X-Frame-Options: DENY` for older browsers.
- `X-Content-Type-Options: nosniff` everywhere.
- `Strict-Transport-Security` only when `BASE_URL` is https.
- `Referrer-Policy: no-referrer` on client-link pages (their URLs carry the
  client's token), `strict-origin-when-cross-origin` elsewhere.

A view that sets its own `Content-Security-Policy` (the outbox's sandboxed
e-mail frame) keeps it.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

# Paths whose URLs carry a client's token (or lead to a client's booking).
CLIENT_LINK_PREFIXES = ("/pay/", "/q/", "/m/", "/b/", "/milestones/", "/api/v1/public/")
HSTS = "max-age=31536000; includeSubDomains"

# What real Stripe.js needs (https://docs.stripe.com/security/guide#content-security-policy).
STRIPE_SCRIPT = ("https://js.stripe.com", "https://*.js.stripe.com")
STRIPE_FRAME = ("https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com")
STRIPE_CONNECT = ("https://api.stripe.com",)
STRIPE_IMG = ("https://*.stripe.com",)


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(config: dict) -> str:
    """The policy for `config`'s Stripe.js and Stripe API."""
    js_origin = _origin(config.get("STRIPE_JS_URL"))
    api_origin = _origin(config.get("STRIPE_API_BASE"))
    real = js_origin == "https://js.stripe.com"
    script = ["'self'"]
    frame = ["'self'"]
    connect = ["'self'"]
    img = ["'self'", "data:"]
    if real:
        script += STRIPE_SCRIPT
        frame += STRIPE_FRAME
        connect += STRIPE_CONNECT
        img += STRIPE_IMG
    elif js_origin:
        # The fake server serves Stripe.js and answers its calls.
        script.append(js_origin)
        frame.append(js_origin)
        connect.append(js_origin)
    if api_origin and api_origin not in connect:
        connect.append(api_origin)
        if not real:
            frame.append(api_origin)
    directives = [
        "default-src 'self'",
        f"script-src {' '.join(script)}",
        # Browsers without CSP 3 fall back to style-src for everything.
        "style-src 'self' 'unsafe-inline'",
        "style-src-elem 'self'",
        f"img-src {' '.join(img)}",
        "font-src 'self'",
        f"connect-src {' '.join(connect)}",
        f"frame-src {' '.join(frame)}",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def is_client_link(path: str, args: dict | None = None) -> bool:
    """A page or API call whose URL carries a client token."""
    if path.startswith(CLIENT_LINK_PREFIXES):
        return True
    return any("token" in key for key in (args or {}))


def add_security_headers(response: Response) -> Response:
    config = current_app.config
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = content_security_policy(config)
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if str(config.get("BASE_URL", "")).startswith("https://"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if is_client_link(request.path, request.args):
        headers["Referrer-Policy"] = "no-referrer"
    else:
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def install_security_headers(app: Flask) -> None:
    """The app factory's step: every response gets the headers above; logs lose tokens."""
    app.after_request(add_security_headers)
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())


# --- what a log line may say about a request ---------------------------------

_MAX_LOGGED_ARG = 40


def _loggable(name: str, value: object) -> str:
    if isinstance(value, int):
        return str(value)
    text = str(value)
    # A client link's token, a webhook token, a manage token: never logged.
    if "token" in name or len(text) > _MAX_LOGGED_ARG or not text.replace("-", "").isalnum():
        return "[redacted]"
    return text


def describe_request() -> str:
    """`POST quotes_public.quote_page (milestone_id=3, token=[redacted])`: no path, no query.

    Client links carry their token in the path (and sometimes the query), so
    log lines name the endpoint and the view's ids instead of the URL.
    """
    args = request.view_args or {}
    shown = ", ".join(f"{name}={_loggable(name, value)}" for name, value in sorted(args.items()))
    endpoint = request.endpoint or "(no route)"
    return f"{request.method} {endpoint}" + (f" ({shown})" if shown else "")


# Our tokens are `<prefix>_<43 url-safe characters>` (`webapp.accounts.models.new_token`);
# an exception's text (a database error's parameters, say) may quote one.
TOKEN_PATTERN = re.compile(r"\b[a-z]{1,8}_[A-Za-z0-9_-]{32,}")
# The loggers whose lines may quote a request's data: errors, due work, e-mail, tasks.
REDACTED_LOGGERS = ("webapp.errors", "webapp.due", "webapp.mail.service", "webapp.tasks")


def redact_tokens(text: str) -> str:
    return TOKEN_PATTERN.sub("[redacted]", text)


class TokenRedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback with every token-like string redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact_tokens(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_tokens(record.exc_text)
            # The formatted text replaces the exception (formatters use exc_text when set).
        return True
