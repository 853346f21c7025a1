"""Dunning (relances): the receivables dashboard, case pages, the client's "fix my
payment" page and the JSON API. The engine is `billing.dunning`; what dunning hears
from the ledger is registered by the app factory (`webapp.dunning.subscriber`)."""

from __future__ import annotations

from flask import Flask

# The modules that attach this feature's routes to the API blueprint, imported by
# the app factory before it registers that blueprint (not on import: the due work
# and the models import this package without its API).
API_MODULES: tuple[str, ...] = ("webapp.dunning.api",)


def register(app: Flask) -> None:
    """Register the freelancer pages and the client's public pages."""
    from webapp.dunning.public_routes import bp as public_bp
    from webapp.dunning.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(public_bp)
