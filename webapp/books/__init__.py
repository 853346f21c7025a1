"""The books (issue 17): invoices by hand, bank statements that settle them, the
livre des recettes and the FEC. The rules live in `billing.books`."""

from __future__ import annotations

from flask import Flask

# The modules that attach this feature's routes to the API blueprint, imported by
# the app factory before it registers that blueprint (not on import: the due work
# and the models import this package without its API).
API_MODULES: tuple[str, ...] = ("webapp.books.api", "webapp.books.api_reports")


def register(app: Flask) -> None:
    """Register the books pages."""
    from webapp.books import page_reports  # noqa: F401  (the reports' routes on the same blueprint)
    from webapp.books.routes import bp

    app.register_blueprint(bp)
