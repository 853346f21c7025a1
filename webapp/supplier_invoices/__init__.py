"""Supplier invoices received (issue 12): the freelancer's own purchases as e-invoices.

The reform's reception obligation (1 September 2026): a Factur-X PDF, a CII or
a UBL XML is checked (`billing.facturx.reception`) and kept. API under
`/api/v1/supplier-invoices`, page `/supplier-invoices`.
"""

from __future__ import annotations

from flask import Flask

from webapp.supplier_invoices import api as _api  # noqa: F401  (attaches routes to the API)


def register(app: Flask) -> None:
    """Register the supplier-invoices page."""
    from webapp.supplier_invoices.routes import bp

    app.register_blueprint(bp)
