"""The web layer: what only requests, URLs and pages need, installed by `install_web`.

`create_app` calls it at once, or defers it to first need for the app the
`flask` command loads (`webapp.deferred`). The steps keep their order: the
input guards before any route, the extensions' request hooks, the pages and
the API, the error pages, the security headers.
"""

from __future__ import annotations

import importlib

from flask import Flask
from flask_babel import get_locale

from webapp.validation import N_

LOGIN_MESSAGE = N_("Please log in to access this page.")


def _translate(message: str) -> str:
    from flask_babel import gettext

    return gettext(message)


def install_web(app: Flask) -> None:
    """Install the web layer on `app` (once per app)."""
    from webapp.validation import register_input_guards

    register_input_guards(app)  # before any route: bounded <int:…>, no NUL in input
    register_web_extensions(app)
    register_blueprints(app)
    register_errors(app)
    register_security_headers(app)


def register_web_extensions(app: Flask) -> None:
    """CSRF, rate limits, the language cookie, log-in, template filters, sessions."""
    from webapp import SUPPORTED_LOCALES, policy_name
    from webapp.extensions import csrf, limiter, login_manager

    csrf.init_app(app)
    # Explicit per app: flask-limiter's one Limiter otherwise keeps the
    # `enabled` of the previous app it was bound to (an app built with
    # RATELIMIT_ENABLED=False would switch log-in throttling off for the next).
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    from webapp.i18n import register_i18n

    register_i18n(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    # Flask-Login's flash, in the reader's language (the message is a catalog msgid).
    login_manager.login_message = LOGIN_MESSAGE
    login_manager.localize_callback = _translate
    login_manager.session_protection = "strong"
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["SUPPORTED_LOCALES"] = SUPPORTED_LOCALES
    from webapp.validation import translate_message

    app.jinja_env.filters["tr"] = translate_message
    from webapp.public.wording import money, state_word, status_text

    # `{{ amount_minor|money(currency) }}`: integer minor units, in the page's locale.
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["status_text"] = status_text
    app.jinja_env.filters["state_word"] = state_word
    app.jinja_env.filters["policy_name"] = policy_name

    # Sessions (version, lifetime, strong protection), log-in throttles, ProxyFix.
    from webapp.accounts import security

    security.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Every page and the JSON API; each feature's `register(app)` (webapp.features)."""
    from webapp.accounts.routes import bp as accounts_bp
    from webapp.api import bp as api_bp
    from webapp.dev.routes import bp as dev_bp
    from webapp.features import FEATURES
    from webapp.stripe_connect.routes import bp as stripe_connect_bp
    from webapp.webhooks.routes import bp as webhooks_bp

    # Feature modules (and the Stripe keys' API) attach their API routes to
    # `api_bp` when imported, so they are imported before it is registered.
    importlib.import_module("webapp.stripe_connect.api")
    features = [importlib.import_module(name) for name in FEATURES]
    for feature in features:
        for name in getattr(feature, "API_MODULES", ()):
            importlib.import_module(name)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(stripe_connect_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(dev_bp)
    for feature in features:
        feature.register(app)
    # The freelancer nav links only to the features this app has.
    app.jinja_env.globals["nav_endpoints"] = frozenset(app.view_functions)


def register_errors(app: Flask) -> None:
    """JSON errors under /api, error pages elsewhere."""
    from webapp.errors import register_error_handlers

    register_error_handlers(app)


def register_security_headers(app: Flask) -> None:
    """CSP and the other response headers."""
    from webapp.security import install_security_headers

    install_security_headers(app)
