"""Invoices: the glue every money flow calls (`issue`), the API and the pages.

The invoicing rules themselves live in `billing.invoicing`.
"""

from __future__ import annotations

from flask import Flask

from webapp.invoices import api as _api  # noqa: F401  (attaches routes to the API blueprint)
from webapp.invoices import ereporting as _ereporting  # noqa: F401
from webapp.invoices import facturx_api as _facturx_api  # noqa: F401


def register(app: Flask) -> None:
    """Register the invoice pages."""
    from webapp.invoices.routes import bp

    app.register_blueprint(bp)
