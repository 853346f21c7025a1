"""`/api/v1/invoices`: the freelancer's invoices, their PDFs, transfers received, credit notes.

Issued invoices have no PUT, PATCH or DELETE: corrections are credit notes.
"""

from __future__ import annotations

from flask import Response, jsonify, request

from billing import events
from billing.db import utcnow
from billing.errors import AlreadyDone, NotAllowed
from billing.invoicing import documents, pdf, service
from billing.invoicing.models import CREDITED, DEBIT_KINDS, Invoice
from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.books.settle import record_transfer
from webapp.errors import ApiError
from webapp.extensions import db
from webapp.invoices import schemas
from webapp.invoices.issue import local_today

_DETAIL = {"type": "object", "description": "an invoice with lines, payments and timeline"}


def _own(invoice_id: int) -> Invoice:
    # Another freelancer's invoice answers exactly like a missing one.
    invoice = service.get_invoice(db.session, current_freelancer().id, invoice_id)
    if invoice is None:
        raise ApiError(404, "No such invoice.")
    return invoice


def pdf_response(invoice: Invoice, locale: str | None) -> Response:
    """The PDF as issued (the same bytes every time), inline, named after its number.

    `locale` other than the invoice's: a courtesy translation of the same frozen
    content, rendered on the fly; the issued document stays the stored one.
    """
    if locale in ("fr", "en") and locale != invoice.locale:
        body = pdf.render_pdf(invoice, locale=locale)
    else:
        body = documents.issued_pdf(db.session, invoice)
        db.session.commit()  # an older invoice's first rendering is kept
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{pdf.filename(invoice)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/invoices")
@documented(
    "List the freelancer's invoices and credit notes, newest first",
    response=schemas.InvoiceListSchema,
)
@token_required
def list_invoices():
    rows = service.list_invoices(db.session, current_freelancer().id)
    return jsonify({"invoices": [schemas.summary(i) for i in rows]})


@bp.get("/invoices/<int:invoice_id>")
@documented("Read one invoice: parties, lines, VAT, payments, credit notes", response=_DETAIL)
@token_required
def get_invoice(invoice_id: int):
    return jsonify(schemas.detail(db.session, _own(invoice_id)))


@bp.get("/invoices/<int:invoice_id>.pdf")
@documented(
    "The invoice as a PDF (application/pdf); ?lang=fr|en",
    response={"type": "string", "format": "binary"},
)
@token_required
def get_invoice_pdf(invoice_id: int):
    return pdf_response(_own(invoice_id), request.args.get("lang"))


@bp.post("/invoices/<int:invoice_id>/payments")
@documented(
    "Record money received by bank transfer; never more than the balance due",
    body=schemas.RecordPaymentSchema,
    response=_DETAIL,
    status=201,
)
@token_required
def record_payment(invoice_id: int):
    freelancer = current_freelancer()
    invoice = _own(invoice_id)
    data = schemas.RecordPaymentSchema().load(json_body())
    if invoice.kind not in DEBIT_KINDS:
        raise ApiError(409, "A credit note is not paid.")
    if invoice.status == CREDITED:
        raise ApiError(409, "This invoice is cancelled by credit notes.")
    balance = service.balance_due(invoice)
    if balance == 0:
        raise ApiError(409, "Nothing is left to pay on this invoice.")
    if data["amount_minor"] > balance:
        raise ApiError(
            422,
            "Some fields are invalid.",
            fields={"amount_minor": [f"At most the balance due, {balance}."]},
        )
    paid_at = data["paid_at"] or utcnow()
    if paid_at > utcnow():
        raise ApiError(422, "Some fields are invalid.", fields={"paid_at": ["Not in the future."]})
    try:
        # The one transfer path (webapp.books.settle): case lock, payment, thanks.
        record_transfer(
            db.session,
            invoice,
            amount_minor=data["amount_minor"],
            method=data["method"],
            paid_at=paid_at,
            reference=data["reference"],
            actor=events.freelancer_actor(freelancer.id),
        )
    except (NotAllowed, AlreadyDone) as exc:
        db.session.rollback()
        raise ApiError(409, str(exc)) from None
    db.session.commit()
    return jsonify(schemas.detail(db.session, invoice)), 201


@bp.post("/invoices/<int:invoice_id>/credit-notes")
@documented(
    "Issue a credit note (avoir) on an invoice, in full or for part of it",
    body=schemas.CreditNoteSchema,
    response=_DETAIL,
    status=201,
)
@token_required
def create_credit_note(invoice_id: int):
    freelancer = current_freelancer()
    invoice = _own(invoice_id)
    data = schemas.CreditNoteSchema().load(json_body())
    if invoice.kind not in DEBIT_KINDS:
        raise ApiError(409, "A credit note cannot itself be credited.")
    creditable = invoice.total_incl_vat_minor - service.credited_minor(invoice)
    if creditable <= 0:
        raise ApiError(409, "This invoice is already fully credited.")
    if data["amount_minor"] is not None and data["amount_minor"] > creditable:
        raise ApiError(
            422,
            "Some fields are invalid.",
            fields={"amount_minor": [f"At most what is left to credit, {creditable}."]},
        )
    try:
        note = service.issue_credit_note(
            db.session,
            invoice.id,
            amount_minor=data["amount_minor"],
            reason=data["reason"],
            issue_date=max(local_today(freelancer), invoice.issue_date),
            actor=events.freelancer_actor(freelancer.id),
        )
    except (NotAllowed, AlreadyDone) as exc:
        db.session.rollback()
        raise ApiError(409, str(exc)) from None
    db.session.commit()
    return jsonify(schemas.detail(db.session, note)), 201
