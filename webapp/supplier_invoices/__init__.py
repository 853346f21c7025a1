"""Supplier invoices received (issue 12): the freelancer's own purchases as e-invoices.

The reform's reception obligation (1 September 2026): a Factur-X PDF, a CII or
a UBL XML is checked (`billing.facturx.reception`) and kept. API under
`/api/v1/supplier-invoices`, page `/supplier-invoices`.
"""

from __future__ import annotations

from flask import Flask

# The modules that attach this feature's routes to the API blueprint, imported by
# the app factory before it registers that blueprint (not on import: the due work
# and the models import this package without its API).
API_MODULES: tuple[str, ...] = ("webapp.supplier_invoices.api",)


def register(app: Flask) -> None:
    """Register the supplier-invoices page."""
    from webapp.supplier_invoices.routes import bp

    app.register_blueprint(bp)
