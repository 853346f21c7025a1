"""Invoices: the glue every money flow calls (`issue`), the API and the pages.

The invoicing rules themselves live in `billing.invoicing`.
"""

from __future__ import annotations

from flask import Flask

# The modules that attach this feature's routes to the API blueprint, imported by
# the app factory before it registers that blueprint (not on import: the due work
# and the models import this package without its API).
API_MODULES: tuple[str, ...] = (
    "webapp.invoices.api",
    "webapp.invoices.ereporting",
    "webapp.invoices.facturx_api",
)


def register(app: Flask) -> None:
    """Register the invoice pages."""
    from webapp.invoices.routes import bp

    app.register_blueprint(bp)
