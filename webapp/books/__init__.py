"""The books (issue 17): invoices by hand, bank statements that settle them, the
livre des recettes and the FEC. The rules live in `billing.books`."""

from __future__ import annotations

from flask import Flask

from webapp.books import api as _api  # noqa: F401  (attaches routes to the API blueprint)
from webapp.books import api_reports as _api_reports  # noqa: F401  (the same, for the reports)


def register(app: Flask) -> None:
    """Register the books pages."""
    from webapp.books import page_reports  # noqa: F401  (the reports' routes on the same blueprint)
    from webapp.books.routes import bp

    app.register_blueprint(bp)
