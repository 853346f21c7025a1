"""Configuration from the environment (see CONTRACT.md, "Configuration")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FAKE_STRIPE = "http://127.0.0.1:8420"


def _instance_secret(instance_path: Path) -> str:
    """A SECRET_KEY kept in instance/ so that dev restarts keep sessions valid."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _is_local(base_url: str) -> bool:
    host = urlparse(base_url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1") or host.endswith(".localhost")


def from_environment(instance_path: Path) -> dict[str, Any]:
    """Read every setting the contract names; development defaults where safe."""
    env = os.environ
    base_url = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    stripe_api_base = env.get("STRIPE_API_BASE")
    if stripe_api_base is None and not env.get("STRIPE_SECRET_KEY"):
        # No real keys and no override: the embedded fake server.
        stripe_api_base = DEFAULT_FAKE_STRIPE
    js_default = (
        f"{stripe_api_base.rstrip('/')}/js.stripe.com/v3/"
        if stripe_api_base
        else "https://js.stripe.com/v3/"
    )
    secret_key = env.get("SECRET_KEY") or _instance_secret(instance_path)
    return {
        "SECRET_KEY": secret_key,
        "DATABASE_URL": env.get("DATABASE_URL", "sqlite:///instance/acompte.sqlite"),
        "BASE_URL": base_url,
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", "sk_test_acompte_fake"),
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", "pk_test_acompte_fake"),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", "whsec_acompte_fake"),
        "STRIPE_API_BASE": stripe_api_base,
        "STRIPE_JS_URL": env.get("STRIPE_JS_URL", js_default),
        "HUEY_URL": env.get("HUEY_URL", "sqlite:///instance/huey.sqlite"),
        # Our requests per second to each Stripe account, shared through Redis
        # when HUEY_URL is Redis; unset: 90 for live keys, 25 for test keys and
        # the fake server; 0: no limit (then only 429 backoff).
        "STRIPE_REQUESTS_PER_SECOND": (
            int(rate) if (rate := env.get("STRIPE_REQUESTS_PER_SECOND")) else None
        ),
        "SMTP_URL": env.get("SMTP_URL"),
        "MAIL_FROM": env.get("MAIL_FROM", "Acompte <no-reply@acompte.localhost>"),
        # Days a delivered e-mail keeps its content (client links carry live
        # tokens); then only recipient, subject, dates and status. 0: forever.
        "MAIL_RETENTION_DAYS": int(env.get("MAIL_RETENTION_DAYS", "30")),
        # Hours before a session its client is reminded; empty: no reminders.
        "SESSION_REMINDER_HOURS": env.get("SESSION_REMINDER_HOURS", "24,1"),
        # Comma-separated Fernet keys, newest first; unset: derived from SECRET_KEY.
        "ENCRYPTION_KEYS": env.get("ENCRYPTION_KEYS"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Log-in throttles (flask-limiter syntax): failed log-ins per account,
        # whatever the address, and log-in attempts per client address.
        "LOGIN_ACCOUNT_LIMIT": env.get("LOGIN_ACCOUNT_LIMIT", "20 per 15 minutes"),
        "LOGIN_ADDRESS_LIMIT": env.get("LOGIN_ADDRESS_LIMIT", "10/minute;100/hour"),
        # Reverse proxies in front of the app (X-Forwarded-For/-Proto hops to trust).
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        # Page sessions: browser-session cookies, ended server-side after this
        # long in all, or this long without a request.
        "SESSION_ABSOLUTE_HOURS": float(env.get("SESSION_ABSOLUTE_HOURS", "12")),
        "SESSION_IDLE_MINUTES": float(env.get("SESSION_IDLE_MINUTES", "120")),
        # API bearer tokens' lifetime when `expires_in_days` is not given (1 to 365).
        "API_TOKEN_DAYS": int(env.get("API_TOKEN_DAYS", "90")),
        # The outbox shows every e-mail of every freelancer: on by default only
        # for a local development address.
        "SHOW_OUTBOX": env.get("SHOW_OUTBOX", "1" if _is_local(base_url) else "0") == "1",
        # Calendar addresses inside our own network (a local Radicale or Nextcloud):
        # refused by default, since the server would fetch them for any freelancer.
        "CALENDAR_ALLOW_PRIVATE_HOSTS": env.get("CALENDAR_ALLOW_PRIVATE_HOSTS", "0") == "1",
        # Where issued e-invoices to French businesses are handed over (the folder
        # adapter of the approved-platform port, webapp.invoices.transmission).
        "EINVOICE_OUTBOX": env.get("EINVOICE_OUTBOX", str(instance_path / "einvoice-outbox")),
        "SESSION_COOKIE_SECURE": base_url.startswith("https"),
    }
