"""Page sessions, log-in throttles, the client's address: how a freelancer's access is guarded.

Sessions. The session cookie is Flask's signed cookie, so the server cannot
forget one by itself; three checks in the user loader make it forgettable:

- the session version: a session carries `Freelancer.session_version` as it
  was at log-in; log-out and a password change raise it, so every copy of
  every older cookie (on any machine) opens nothing any more;
- an absolute lifetime (`SESSION_ABSOLUTE_HOURS`, 12 h) from log-in and an
  idle timeout (`SESSION_IDLE_MINUTES`, 2 h) since the last request, both
  timestamps signed inside the cookie;
- Flask-Login's "strong" protection: a session used from another address or
  user agent than the one it was opened from is emptied. The cookie is a
  browser-session cookie (never `session.permanent`, which would downgrade
  strong protection to "basic"); the lifetime is enforced here instead.

Log-in throttles (both on `POST /login` and `POST /api/v1/tokens`, in
flask-limiter's storage, `RATELIMIT_STORAGE_URI`: Redis shares them between
workers): `LOGIN_ACCOUNT_LIMIT` failed log-ins per e-mail whatever the address,
`LOGIN_ADDRESS_LIMIT` attempts per client address.

Addresses. With `TRUSTED_PROXIES` = n > 0, werkzeug's ProxyFix takes the
client's address and scheme from the last n X-Forwarded-For/-Proto hops, so
per-address limits, strong protection and the audit trail see the client,
not the proxy.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flask import Flask, current_app, request, session
from flask.wrappers import Response
from flask_login import login_user
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.extensions import db, limiter, login_manager

# Our keys in the session, beside Flask-Login's own.
VERSION_KEY = "_sv"
STARTED_KEY = "_t0"
SEEN_KEY = "_seen"
_LOGIN_KEYS = ("_user_id", "_fresh", "_id", "_remember_seconds", VERSION_KEY, STARTED_KEY, SEEN_KEY)
# The idle clock is refreshed at most this often (each refresh rewrites the cookie).
_SEEN_GRANULARITY = 60


def _now() -> float:
    return time.time()


def client_info() -> dict[str, Any]:
    """The request's client for the audit trail: address (after ProxyFix) and user agent."""
    from flask import has_request_context

    if not has_request_context():
        return {}
    return {
        "ip": request.remote_addr or "",
        "user_agent": (request.user_agent.string or "")[:300],
    }


def session_identifier() -> str:
    """Strong protection's fingerprint: the client address and user agent.

    Flask-Login's default reads X-Forwarded-For as sent, which any client can
    forge; this one uses the address ProxyFix settled on.
    """
    raw = f"{request.remote_addr or ''}|{request.headers.get('User-Agent', '')}"
    return hashlib.sha512(raw.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(freelancer: Any) -> None:
    """A fresh session for `freelancer` (a new one defeats session fixation)."""
    session.clear()
    login_user(freelancer)
    now = int(_now())
    session[VERSION_KEY] = freelancer.session_version
    session[STARTED_KEY] = now
    session[SEEN_KEY] = now


def _forget_login() -> None:
    for key in _LOGIN_KEYS:
        session.pop(key, None)


def load_freelancer(freelancer_id: str) -> Any:
    """Flask-Login's user loader: the session's freelancer, if the session still holds."""
    from webapp.accounts.models import Freelancer

    config = current_app.config
    now = _now()
    started, seen = session.get(STARTED_KEY), session.get(SEEN_KEY)
    if (
        not freelancer_id.isdigit()
        or not isinstance(started, int)
        or not isinstance(seen, int)
        or now - started > config["SESSION_ABSOLUTE_HOURS"] * 3600
        or now - seen > config["SESSION_IDLE_MINUTES"] * 60
    ):
        _forget_login()
        return None
    freelancer = db.session.get(Freelancer, int(freelancer_id))
    if (
        freelancer is None
        or not freelancer.is_active
        or session.get(VERSION_KEY) != freelancer.session_version
    ):
        _forget_login()
        return None
    if now - seen >= _SEEN_GRANULARITY:
        session[SEEN_KEY] = int(now)
    return freelancer


# --- log-in throttles ---------------------------------------------------------


def _submitted_email() -> str:
    if request.is_json:
        body = request.get_json(silent=True)
        value = body.get("email") if isinstance(body, dict) else None
    else:
        value = request.form.get("email")
    return value.strip().lower() if isinstance(value, str) else ""


def login_account_key() -> str:
    """The per-account throttle's key: the submitted e-mail (hashed), whatever the address."""
    email = _submitted_email()
    if not email:
        return ""  # nothing to count against: flask-limiter skips an empty key
    return hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()


def _login_failed(response: Response) -> bool:
    return response.status_code == 401


# Shared by the log-in page and the API's token exchange: one budget per account.
login_account_limit = limiter.shared_limit(
    lambda: current_app.config["LOGIN_ACCOUNT_LIMIT"],
    scope="login-account",
    key_func=login_account_key,
    deduct_when=_login_failed,
    methods=["POST"],
)
login_address_limit = limiter.shared_limit(
    lambda: current_app.config["LOGIN_ADDRESS_LIMIT"],
    scope="login-address",
    methods=["POST"],
)


def _retry_after(response: Response) -> Response:
    """A throttled answer says when to come back (the breached window's reset)."""
    if response.status_code == 429:
        current = limiter.current_limit
        if current is not None and current.breached:
            response.headers["Retry-After"] = str(max(1, int(current.reset_at - time.time())))
        else:
            response.headers.setdefault("Retry-After", "60")
    return response


def init_app(app: Flask) -> None:
    """Wire the above into `app` (the app factory's step, once per app)."""
    login_manager.user_loader(load_freelancer)
    login_manager._session_identifier_generator = session_identifier
    app.after_request(_retry_after)
    _only_decorated_limits(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]


def _only_decorated_limits(app: Flask) -> None:
    """Drop flask-limiter's before-request check when it has nothing to check.

    That check evaluates default, application and blueprint limits on every
    request. Acompte declares none: each limit decorates its view, and the
    decorator's wrapper checks it when the view is called (deductions and
    headers stay in flask-limiter's after-request hook). The check was a fifth
    of a public page's time (issue 14). Configure any such limit and it stays.
    """
    manager = limiter.limit_manager
    configured = (
        manager.default_limits
        or manager.application_limits
        or getattr(manager, "_blueprint_limits", None)
        or any(
            app.config.get(name)
            for name in (
                "RATELIMIT_DEFAULT",
                "RATELIMIT_APPLICATION",
                "RATELIMIT_META",
                "RATELIMIT_IN_MEMORY_FALLBACK",
            )
        )
    )
    hooks = app.before_request_funcs.get(None, [])
    if not configured and limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
