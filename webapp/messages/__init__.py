"""Paid messages: a client's question is held on their card and captured when answered."""

from __future__ import annotations

from flask import Flask

from webapp.messages import api as _api  # noqa: F401  (attaches the JSON routes)


def register(app: Flask) -> None:
    """Register the freelancer's pages and the client's public pages."""
    from webapp.messages.public_routes import bp as public_bp
    from webapp.messages.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(public_bp)
