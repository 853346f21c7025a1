"""What the ledger tells people: a receipt with its invoice for every charge, and the
freelancer's "payment received" and "charge failed" notices.

Registered on every payment subject after the invoices' subscriber
(`webapp.register_billing`), so the invoice of a succeeded payment exists when
its receipt is written, in the same transaction. The invoice PDF is attached
by reference and read at delivery (`invoice_pdf`, the one place an e-mail
gets it): the stored document as issued, never inside the ledger's locks.
"""

from __future__ import annotations

from typing import Any

from flask import has_app_context
from sqlalchemy.orm import Session

from billing import outcomes, payments
from billing.db import utcnow
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice
from billing.models import Payment
from webapp.notifications import service
from webapp.notifications.parties import client_of_payment

INVOICE_PDF = "invoice_pdf"


def subscribe_to_ledger() -> None:
    """The notices' ledger subscriber, on every subject (the app factory's step; idempotent)."""
    outcomes.subscribe(outcomes.ANY_SUBJECT)(on_payment)


def on_payment(session: Session, payment: Payment, old: str, new: str) -> None:
    """A charge succeeded: receipt and notice; an off-session charge failed: notice."""
    if not has_app_context():
        # The engine used on its own (no app: no templates, no mail settings).
        return
    if new == payments.SUCCEEDED and payment.amount_captured_minor > 0:
        send_receipt(session, payment)
    elif new == payments.FAILED and payment.off_session:
        client = client_of_payment(session, payment)
        service.to_freelancer(
            session,
            payment.freelancer_id,
            "charge_failed",
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            client=client.name if client else "",
            title=client.title if client else "",
            failure=payment.failure_code or "",
        )


def invoice_attachment(invoice: Invoice, locale: str) -> dict[str, Any]:
    """An e-mail attachment naming the invoice; its PDF is made when the e-mail is sent."""
    return {
        "kind": INVOICE_PDF,
        "invoice_id": invoice.id,
        "locale": locale,
        "filename": f"{invoice.number}.pdf",
        "content_type": "application/pdf",
    }


def invoice_pdf(session: Session, invoice_id: int, locale: str | None) -> bytes:
    """The invoice's PDF for an e-mail: the document as issued, the same bytes every time.

    The one place an e-mail gets an invoice's PDF. It is issued in the
    client's language already (`locale` is kept on the attachment for the
    record); an invoice from before documents were stored is rendered once
    and kept.
    """
    from billing.invoicing import documents

    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise LookupError(f"invoice {invoice_id} is gone")
    return documents.issued_pdf(session, invoice)


def send_receipt(session: Session, payment: Payment) -> None:
    """The client's receipt (invoice attached) and the freelancer's notice, for one charge."""
    client = client_of_payment(session, payment)
    invoice = invoicing.find_by_payment(session, payment.id)
    amount = payment.amount_captured_minor
    number = invoice.number if invoice is not None else ""
    what = _what(invoice, client)
    if client is not None and client.email:
        locale = service.reader_locale(client.locale)
        service.to_client(
            session,
            payment.freelancer_id,
            "receipt",
            to=client.email,
            locale=locale,
            attachments=[invoice_attachment(invoice, locale)] if invoice is not None else [],
            client_name=client.name,
            amount_minor=amount,
            currency=payment.currency,
            what=what,
            invoice_number=number,
            paid_at=utcnow(),
            purpose=payment.purpose,
        )
    service.to_freelancer(
        session,
        payment.freelancer_id,
        "payment_received",
        amount_minor=amount,
        currency=payment.currency,
        client=client.name if client else "",
        title=what,
        invoice_number=number,
        purpose=payment.purpose,
    )


def _what(invoice: Invoice | None, client: Any) -> str:
    if invoice is not None and invoice.lines:
        return invoice.lines[0].description
    return client.title if client is not None else ""
