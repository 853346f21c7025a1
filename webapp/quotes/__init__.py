"""Quotes with milestones (devis / jalons): the client signs, saves a card, pays the deposit;
each later milestone is charged automatically when approved or due.
"""

from __future__ import annotations

from flask import Flask

from webapp.quotes import api  # noqa: F401  (attaches the API routes)


def register(app: Flask) -> None:
    """Register the freelancer's quote pages and the client's quote pages."""
    from webapp.quotes.public_routes import bp as public_bp
    from webapp.quotes.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(public_bp)
    app.jinja_env.filters["minor"] = format_minor


def format_minor(amount_minor: int, currency: str) -> str:
    """`120050, "eur"` → `1 200,50 €` in the page's language (exact: Decimal, no float)."""
    from decimal import Decimal

    from flask_babel import format_currency

    from billing.money import minor_exponent

    value = Decimal(amount_minor).scaleb(-minor_exponent(currency))
    return format_currency(value, currency.upper())
