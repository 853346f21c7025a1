"""Paid messages: a client's question is held on their card and captured when answered."""

from __future__ import annotations

from flask import Flask

# The modules that attach this feature's routes to the API blueprint, imported by
# the app factory before it registers that blueprint (not on import: the due work
# and the models import this package without its API).
API_MODULES: tuple[str, ...] = ("webapp.messages.api",)


def register(app: Flask) -> None:
    """Register the freelancer's pages and the client's public pages."""
    from webapp.messages.public_routes import bp as public_bp
    from webapp.messages.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(public_bp)
