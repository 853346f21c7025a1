"""`GET /api/v1/invoices/{id}/facturx.xml`: the CII XML embedded in the invoice's PDF.

The bytes stored at issue, identical to the `factur-x.xml` inside
`GET /invoices/{id}.pdf`. An invoice issued before Factur-X gets its PDF/A made
on first request; if its frozen content cannot make a valid e-invoice, it has
none (404 with the reason).
"""

from __future__ import annotations

from flask import Response

from billing.invoicing import documents, service
from billing.lazy import lazy_module
from webapp.api import bp, current_freelancer, token_required
from webapp.api.openapi import documented
from webapp.errors import ApiError
from webapp.extensions import db

# WeasyPrint, factur-x and Saxon load with the first e-invoice read, not with the app.
facturx_document = lazy_module("billing.facturx.document")


@bp.get("/invoices/<int:invoice_id>/facturx.xml")
@documented(
    "The invoice's Factur-X XML (CII, EN 16931 profile), as embedded in its PDF",
    response={"type": "string", "format": "binary", "description": "application/xml"},
)
@token_required
def get_invoice_facturx_xml(invoice_id: int):
    invoice = service.get_invoice(db.session, current_freelancer().id, invoice_id)
    if invoice is None:
        raise ApiError(404, "No such invoice.")
    einvoice = facturx_document.einvoice_of(db.session, invoice.id)
    if einvoice is None:
        documents.document_of(db.session, invoice)  # an older invoice's first rendering
        db.session.commit()
        einvoice = facturx_document.einvoice_of(db.session, invoice.id)
    if einvoice is None:
        raise ApiError(404, "This invoice was issued before e-invoices and has no valid XML.")
    response = Response(einvoice.xml, mimetype="application/xml")
    response.headers["Content-Disposition"] = f'inline; filename="{invoice.number}-factur-x.xml"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
