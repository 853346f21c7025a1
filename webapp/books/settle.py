"""Recording a transfer received: the one path behind the manual "record a transfer"
(`POST /api/v1/invoices/{id}/payments`) and every bank match.

The invoice's dunning case is locked first, then the invoice (inside
`record_payment`): the same order as the dunning sweep, which locks the case
and then reads the invoice. A sweep and an import therefore take turns: either
the step was recorded before the payment, or the sweep finds the case closed.
The paid invoice closes its case in the same transaction (the dunning
subscriber), and the client is thanked with a receipt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.dunning.models import DunningCase
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice, InvoicePayment
from billing.locking import lock


def lock_case_of(session: Session, invoice_id: int) -> None:
    """Take the row lock of the invoice's dunning case, if it has one."""
    case_id = session.scalar(select(DunningCase.id).where(DunningCase.invoice_id == invoice_id))
    if case_id is not None:
        lock(session, DunningCase, case_id)


def record_transfer(
    session: Session,
    invoice: Invoice,
    *,
    amount_minor: int,
    paid_at: datetime,
    reference: str = "",
    method: str = "transfer",
    actor: str = events.SYSTEM,
) -> InvoicePayment:
    """Record money received by transfer (or another way) and thank the client; flushed.

    `NotAllowed` / `AlreadyDone` from `record_payment` (more than the balance, a
    credit note, a cancelled invoice).
    """
    lock_case_of(session, invoice.id)
    row = invoicing.record_payment(
        session,
        invoice.id,
        amount_minor=amount_minor,
        method=method,
        paid_at=paid_at,
        reference=reference,
        actor=actor,
    )
    send_thanks(session, invoice, row)
    return row


def send_thanks(session: Session, invoice: Invoice, row: InvoicePayment) -> None:
    """The client's receipt for a transfer (the invoice attached), in their language."""
    from webapp.notifications import service
    from webapp.notifications.receipts import invoice_attachment

    email = (invoice.buyer or {}).get("email") or ""
    if not email:
        return
    locale = service.reader_locale(invoice.locale)
    service.to_client(
        session,
        invoice.freelancer_id,
        "receipt",
        to=email,
        locale=locale,
        attachments=[invoice_attachment(invoice, locale)],
        client_name=(invoice.buyer or {}).get("name", ""),
        amount_minor=row.amount_minor,
        currency=invoice.currency,
        what=invoice.lines[0].description if invoice.lines else "",
        invoice_number=invoice.number,
        paid_at=row.paid_at,
        purpose="transfer",
    )
