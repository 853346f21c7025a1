"""The pages clients use, without an account: a freelancer's booking page, the
booking confirmation and the "manage my booking" page.

They are built on the public JSON API (CONTRACT.md) that the booking feature
serves: this package holds pages only, no API and no tables.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register the client pages (the `/<slug>` catch-all matches only what no other rule does)."""
    import webapp.public.times  # noqa: F401 (the page without JavaScript, on the same blueprint)
    from webapp.public.routes import bp

    app.register_blueprint(bp)
