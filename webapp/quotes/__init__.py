"""Quotes with milestones (devis / jalons): the client signs, saves a card, pays the deposit;
each later milestone is charged automatically when approved or due.
"""

from __future__ import annotations

from flask import Flask

# The modules that attach this feature's routes to the API blueprint, imported by
# the app factory before it registers that blueprint (not on import: the due work
# and the models import this package without its API).
API_MODULES: tuple[str, ...] = ("webapp.quotes.api",)


def register(app: Flask) -> None:
    """Register the freelancer's quote pages and the client's quote pages."""
    from webapp.quotes.public_routes import bp as public_bp
    from webapp.quotes.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(public_bp)
    app.jinja_env.filters["minor"] = format_minor
    app.jinja_env.filters["iso_day"] = format_iso_day
    app.jinja_env.filters["rate_bp"] = format_rate_bp


def _formatter():  # noqa: ANN202
    from flask_babel import get_locale

    from billing.typography import Formatter

    return Formatter(str(get_locale() or "fr")[:2], "eur")


def format_iso_day(value: str | None) -> str:
    """`"2026-12-01"` → `1er décembre 2026` / `1 December 2026` in the page's language."""
    from datetime import date

    if not value:
        return ""
    return _formatter().date(date.fromisoformat(str(value)[:10]))


def format_rate_bp(value: int | None) -> str:
    """`2000` → `20 %`, `550` → `5,5 %` (babel, the page's language)."""
    return "" if value is None else _formatter().rate(int(value))


def format_minor(amount_minor: int, currency: str) -> str:
    """`120050, "eur"` → `1 200,50 €` in the page's language (exact: Decimal, no float)."""
    from decimal import Decimal

    from flask_babel import format_currency

    from billing.money import minor_exponent

    value = Decimal(amount_minor).scaleb(-minor_exponent(currency))
    return format_currency(value, currency.upper())
