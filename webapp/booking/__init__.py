"""Paid sessions: offerings, availability, bookings, and the money secured before the call."""

from __future__ import annotations

from flask import Flask

from webapp.booking import api as _api  # noqa: F401  (attaches the JSON routes)


def register(app: Flask) -> None:
    """Register the freelancer's pages (offerings, availability, bookings)."""
    from webapp.booking.routes import bp

    app.register_blueprint(bp)
