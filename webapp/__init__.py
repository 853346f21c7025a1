"""Acompte's web application: `create_app` assembles it as a list of steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import get_locale

from webapp.config import PROJECT_ROOT, from_environment
from webapp.extensions import babel, csrf, db, limiter, login_manager
from webapp.routing import LazyBuilderRule
from webapp.validation import N_, register_input_guards

SUPPORTED_LOCALES = ("fr", "en")
LOGIN_MESSAGE = N_("Please log in to access this page.")


def _translate(message: str) -> str:
    from flask_babel import gettext

    return gettext(message)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment, then apply `config` overrides (tests)."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "webapp" / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    app.url_rule_class = LazyBuilderRule  # URL builders made on first url_for
    register_config(app, config)
    register_input_guards(app)  # before any route: bounded <int:…>, no NUL in input
    register_extensions(app)
    register_blueprints(app)
    register_errors(app)
    register_security_headers(app)
    register_cli(app)
    register_billing(app)
    # A public page's cached profile is invalidated by the flush that changes it.
    from webapp.public import cache as public_cache

    public_cache.install()
    return app


def register_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.update(from_environment(Path(app.instance_path)))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        BABEL_TRANSLATION_DIRECTORIES=str(PROJECT_ROOT / "translations"),
        BABEL_DEFAULT_LOCALE="fr",
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    if overrides:
        app.config.update(overrides)
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("RATELIMIT_STORAGE_URI", "memory://")


def policy_name(policy: str) -> str:
    """A payment policy's short name in the page's language."""
    from flask_babel import gettext as _

    names = {"prepay": _("Paid at booking"), "hold": _("Card hold"), "deposit": _("Deposit")}
    return names.get(policy, policy)


def select_locale() -> str:
    """The freelancer's language when logged in, else the browser's, else French."""
    from flask import has_request_context
    from flask_login import current_user

    if not has_request_context():
        # Background work (run-due, the worker): e-mails set their recipient's
        # locale with force_locale; anything else falls back to French.
        return "fr"
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    if getattr(current_user, "is_authenticated", False):
        return current_user.locale
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or "fr"


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    csrf.init_app(app)
    # Explicit per app: flask-limiter's one Limiter otherwise keeps the
    # `enabled` of the previous app it was bound to (an app built with
    # RATELIMIT_ENABLED=False would switch log-in throttling off for the next).
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
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
    import importlib

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
    from webapp.errors import register_error_handlers

    register_error_handlers(app)


def register_security_headers(app: Flask) -> None:
    from webapp.security import install_security_headers

    install_security_headers(app)


def register_cli(app: Flask) -> None:
    from webapp.cli import register_commands

    register_commands(app)


def register_billing(app: Flask) -> None:
    """The engine's webhook handlers, the features' ledger subscribers, the due work."""
    from webapp.booking.ledger import subscribe_to_ledger as booking_subscribes
    from webapp.due_work import register_due_work
    from webapp.dunning.subscriber import subscribe_to_ledger as dunning_subscribes
    from webapp.invoices.ledger import subscribe_to_ledger as invoices_subscribe
    from webapp.messages.subscriber import subscribe_to_ledger as messages_subscribes
    from webapp.notifications.receipts import subscribe_to_ledger as notices_subscribe
    from webapp.quotes.ledger import subscribe_to_ledger as quotes_subscribes
    from webapp.webhooks import load_handlers

    load_handlers()
    booking_subscribes()
    messages_subscribes()
    quotes_subscribes()
    # Every-subject subscribers run in this order: the invoice of a succeeded
    # payment (recorded on a dunning case's unpaid invoice, which closes the
    # case) before dunning hears of the payment.
    invoices_subscribe()
    dunning_subscribes()
    # Last: a receipt carries the invoice the invoices' subscriber just issued.
    notices_subscribe()
    register_due_work(app)
