"""Money received against an invoice (card, transfer, other): one row per
receipt, never more than the balance, a ledger payment at most once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from billing import events
from billing.errors import AlreadyDone, NotAllowed
from billing.invoicing.amounts import balance_due
from billing.invoicing.models import CREDITED, DEBIT_KINDS, METHODS, InvoicePayment
from billing.invoicing.status import lock_invoice, refresh_status
from billing.invoicing.validation import check_int
from billing.models import Payment


def record_payment(
    session: Session,
    invoice_id: int,
    *,
    amount_minor: int,
    method: str,
    paid_at: datetime,
    payment_id: int | None = None,
    reference: str = "",
    actor: str = events.SYSTEM,
) -> InvoicePayment:
    """Record money received against an invoice, never more than its balance.

    A ledger payment is recorded once: a second time raises `AlreadyDone`.
    """
    amount_minor = check_int("amount_minor", amount_minor)
    if amount_minor <= 0:
        raise NotAllowed("a payment amount must be positive")
    if method not in METHODS:
        raise NotAllowed(f"method must be one of {METHODS}")
    if paid_at.tzinfo is None:
        raise NotAllowed("paid_at must be timezone-aware")
    paid_at = paid_at.astimezone(UTC)
    invoice = lock_invoice(session, invoice_id)
    if invoice.kind not in DEBIT_KINDS:
        raise NotAllowed("a credit note is not paid: refund through the payment instead")
    if payment_id is not None:
        if any(p.payment_id == payment_id for p in invoice.payments):
            raise AlreadyDone(f"payment {payment_id} is already recorded on {invoice.number}")
        payment = session.get(Payment, payment_id)
        if payment is None or payment.freelancer_id != invoice.freelancer_id:
            raise NotAllowed(f"no payment {payment_id} for this freelancer")
        if payment.currency != invoice.currency:
            raise NotAllowed("the payment and the invoice are in different currencies")
    if invoice.status == CREDITED:
        raise NotAllowed(f"invoice {invoice.number} is cancelled by credit notes")
    balance = balance_due(invoice)
    if balance == 0:
        raise NotAllowed(f"invoice {invoice.number} has nothing left to pay")
    if amount_minor > balance:
        raise NotAllowed(f"the amount exceeds the balance due ({balance})")
    row = InvoicePayment(
        invoice=invoice,
        amount_minor=amount_minor,
        method=method,
        paid_at=paid_at,
        payment_id=payment_id,
        reference=reference.strip()[:200],
    )
    session.add(row)
    session.flush()
    events.record(
        session,
        subject_type="invoice",
        subject_id=invoice.id,
        action="invoice_payment_recorded",
        actor=actor,
        freelancer_id=invoice.freelancer_id,
        data={
            "amount_minor": amount_minor,
            "currency": invoice.currency,
            "method": method,
            "paid_at": paid_at.isoformat(),
            "payment_id": payment_id,
            "reference": row.reference,
        },
    )
    refresh_status(session, invoice, actor=actor)
    return row


def reverse_payment(
    session: Session, payment_row_id: int, *, reason: str = "", actor: str = events.SYSTEM
) -> InvoicePayment:
    """Cancel a recorded transfer with a negative row (the row itself never changes).

    For a payment recorded by mistake (a bank match undone): the invoice is owed
    again and its status goes back accordingly. A card payment is refunded through
    the ledger instead; a payment is reversed at most once (`AlreadyDone`).
    """
    original = session.get(InvoicePayment, payment_row_id)
    if original is None or original.reverses_id is not None:
        raise NotAllowed(f"no payment {payment_row_id} to reverse")
    invoice = lock_invoice(session, original.invoice_id)
    if original.payment_id is not None or original.method == "card":
        raise NotAllowed("a card payment is refunded, not reversed")
    if any(p.reverses_id == original.id for p in invoice.payments):
        raise AlreadyDone(f"payment {original.id} is already reversed")
    row = InvoicePayment(
        invoice=invoice,
        amount_minor=-original.amount_minor,
        method=original.method,
        paid_at=original.paid_at,
        reference=(reason or original.reference).strip()[:200],
        reverses_id=original.id,
    )
    session.add(row)
    session.flush()
    events.record(
        session,
        subject_type="invoice",
        subject_id=invoice.id,
        action="invoice_payment_reversed",
        actor=actor,
        freelancer_id=invoice.freelancer_id,
        data={"payment": original.id, "amount_minor": original.amount_minor, "reason": reason},
    )
    refresh_status(session, invoice, actor=actor)
    return row
