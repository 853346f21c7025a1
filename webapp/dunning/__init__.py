"""Dunning (relances): the receivables dashboard, case pages, the client's "fix my
payment" page and the JSON API. The engine is `billing.dunning`; what dunning hears
from the ledger is registered by the app factory (`webapp.dunning.subscriber`)."""

from __future__ import annotations

from flask import Flask

from webapp.dunning import api  # noqa: F401  (attaches the JSON routes)


def register(app: Flask) -> None:
    """Register the freelancer pages and the client's public pages."""
    from webapp.dunning.public_routes import bp as public_bp
    from webapp.dunning.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(public_bp)
