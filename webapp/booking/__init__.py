"""Paid sessions: offerings, availability, bookings, and the money secured before the call."""

from __future__ import annotations

from flask import Flask

# The modules that attach this feature's routes to the API blueprint, imported by
# the app factory before it registers that blueprint (not on import: the due work
# and the models import this package without its API).
API_MODULES: tuple[str, ...] = ("webapp.booking.api",)


def register(app: Flask) -> None:
    """Register the freelancer's pages (offerings, availability, bookings)."""
    from webapp.booking.routes import bp

    app.register_blueprint(bp)
