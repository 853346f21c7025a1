"""Request bodies and JSON shapes of invoices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy.orm import object_session

from billing.events import timeline
from billing.invoicing import documents, service
from billing.invoicing.models import KINDS, Invoice
from webapp.validation import BoundedAwareDateTime

MAX_MINOR = 10**11  # a billion euros: anything larger is a typo


class RecordPaymentSchema(Schema):
    """`POST /invoices/{id}/payments`: money received by bank transfer (or otherwise)."""

    class Meta:
        unknown = RAISE

    amount_minor = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=MAX_MINOR)
    )
    paid_at = BoundedAwareDateTime(load_default=None)
    method = fields.String(load_default="transfer", validate=validate.OneOf(["transfer", "other"]))
    reference = fields.String(load_default="", validate=validate.Length(max=200))


class CreditNoteSchema(Schema):
    """`POST /invoices/{id}/credit-notes`: omit `amount_minor` to credit what is left in full."""

    class Meta:
        unknown = RAISE

    amount_minor = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_MINOR),
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class InvoiceSummarySchema(Schema):
    """An invoice in a list (documentation of the answer's shape)."""

    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(KINDS)})
    number = fields.String()
    status = fields.String(metadata={"enum": ["issued", "partially_paid", "paid", "credited"]})
    issue_date = fields.Date()
    service_date = fields.Date()
    due_date = fields.Date()
    currency = fields.String()
    amount_minor = fields.Integer(metadata={"description": "total including VAT"})
    total_excl_vat_minor = fields.Integer()
    total_vat_minor = fields.Integer()
    total_incl_vat_minor = fields.Integer()
    paid_minor = fields.Integer()
    credited_minor = fields.Integer()
    balance_due_minor = fields.Integer()
    refund_due_minor = fields.Integer()
    buyer_name = fields.String()
    source_type = fields.String()
    source_id = fields.String()
    credited_invoice_id = fields.Integer(allow_none=True)
    pdf_url = fields.String()
    issued_at = fields.String()
    total_minor = fields.Integer()
    pdf_sha256 = fields.String(allow_none=True)


class InvoiceListSchema(Schema):
    """`GET /invoices`."""

    invoices = fields.List(fields.Nested(InvoiceSummarySchema))


def summary(invoice: Invoice) -> dict[str, Any]:
    """The list view of an invoice."""
    return {
        "id": invoice.id,
        "kind": invoice.kind,
        "number": invoice.number,
        "status": invoice.status,
        "issue_date": invoice.issue_date.isoformat(),
        "service_date": invoice.service_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "currency": invoice.currency,
        "amount_minor": invoice.total_incl_vat_minor,
        "total_excl_vat_minor": invoice.total_excl_vat_minor,
        "total_vat_minor": invoice.total_vat_minor,
        "total_incl_vat_minor": invoice.total_incl_vat_minor,
        "paid_minor": service.paid_minor(invoice),
        "credited_minor": service.credited_minor(invoice),
        "balance_due_minor": service.balance_due(invoice),
        "refund_due_minor": service.refund_due(invoice),
        "buyer_name": invoice.buyer.get("legal_name") or invoice.buyer.get("name", ""),
        "source_type": invoice.source_type,
        "source_id": invoice.source_id,
        "credited_invoice_id": invoice.credited_invoice_id,
        "pdf_url": f"/api/v1/invoices/{invoice.id}.pdf",
        # CONTRACT.md "Additions": when it was issued, its total, the stored PDF's hash.
        "issued_at": invoice.created_at.isoformat(),
        "total_minor": invoice.total_incl_vat_minor,
        "pdf_sha256": documents.pdf_sha256(object_session(invoice), invoice),
    }


def detail(session: Any, invoice: Invoice) -> dict[str, Any]:
    """Everything about one invoice: parties, lines, payments, credit notes, timeline."""
    return {
        **summary(invoice),
        "seller": invoice.seller,
        "buyer": invoice.buyer,
        "vat_regime": invoice.vat_regime,
        "penalty_rate": None if invoice.penalty_rate_bp is None else invoice.penalty_rate_bp / 100,
        "recovery_indemnity": invoice.recovery_indemnity,
        "iban": invoice.iban,
        "bic": invoice.bic,
        "locale": invoice.locale,
        "reason": invoice.reason,
        "content_hash": invoice.content_hash,
        "mentions": invoice.mentions,
        "vat": service.vat_summary(invoice),
        "lines": [
            {
                "description": li.description,
                "quantity": str(Decimal(li.quantity_milli) / 1000),
                "quantity_milli": li.quantity_milli,
                "unit_amount_minor": li.unit_amount_minor,
                "unit_includes_vat": li.unit_includes_vat,
                "vat_rate_bp": li.vat_rate_bp,
                "total_excl_vat_minor": li.total_excl_vat_minor,
                "vat_minor": li.vat_minor,
                "total_incl_vat_minor": li.total_incl_vat_minor,
            }
            for li in invoice.lines
        ],
        "payments": [
            {
                "id": p.id,
                "amount_minor": p.amount_minor,
                "currency": invoice.currency,
                "method": p.method,
                "paid_at": p.paid_at.isoformat(),
                "payment_id": p.payment_id,
                "reference": p.reference,
            }
            for p in invoice.payments
        ],
        "credit_notes": [summary(c) for c in invoice.credit_notes],
        "timeline": [
            {
                "at": e.occurred_at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "data": e.data,
            }
            for e in timeline(session, "invoice", invoice.id)
        ],
    }
