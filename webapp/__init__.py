"""Acompte's web application: `create_app` assembles it as a list of steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, request

from webapp.config import PROJECT_ROOT, from_environment
from webapp.deferred import AcompteFlask
from webapp.extensions import babel, db
from webapp.routing import LazyBuilderRule

SUPPORTED_LOCALES = ("fr", "en")


def create_app(config: dict[str, Any] | None = None, *, defer_web: bool | None = None) -> Flask:
    """Build the app from the environment, then apply `config` overrides (tests).

    The web layer (`webapp.web`: pages, API, request hooks) is installed at
    once, or on first need when `defer_web` (default: when the `flask` command
    loads the app, so that a command that serves no page starts fast).
    """
    app = AcompteFlask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "webapp" / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    app.url_rule_class = LazyBuilderRule  # URL builders made on first url_for
    register_config(app, config)
    register_extensions(app)
    if defer_web is None:
        defer_web = loaded_by_flask_command()
    if defer_web:
        app.defer_web(install_web)
    else:
        install_web(app)
    register_cli(app)
    register_billing(app)
    # A public page's cached profile is invalidated by the flush that changes it.
    from webapp.public import cache as public_cache

    public_cache.install()
    return app


def install_web(app: Flask) -> None:
    """The web layer's steps (`webapp.web`), imported only when installed."""
    from webapp import web

    web.install_web(app)


def loaded_by_flask_command() -> bool:
    """Whether the `flask` command is loading the app (it calls us in its click context)."""
    import click
    from flask.cli import ScriptInfo

    context = click.get_current_context(silent=True)
    return context is not None and context.find_object(ScriptInfo) is not None


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

    if not has_request_context():
        # Background work (run-due, the worker): e-mails set their recipient's
        # locale with force_locale; anything else falls back to French.
        return "fr"
    from flask_login import current_user

    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    if getattr(current_user, "is_authenticated", False):
        return current_user.locale
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or "fr"


def register_extensions(app: Flask) -> None:
    """What every command needs: the database, and the translations (e-mails, PDFs)."""
    db.init_app(app)
    babel.init_app(app, locale_selector=select_locale)


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
    # What features wire up beyond their pages (webapp.features: `connect(app)`).
    import importlib

    from webapp.features import FEATURES

    for name in FEATURES:
        connect = getattr(importlib.import_module(name), "connect", None)
        if connect is not None:
            connect(app)
