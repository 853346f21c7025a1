"""Finding invoices: one of a freelancer's, all of them, the one issued for a
billed thing, the one a ledger payment was recorded against.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.invoicing.models import KIND_CREDIT_NOTE, Invoice, InvoicePayment


def get_invoice(session: Session, freelancer_id: int, invoice_id: int) -> Invoice | None:
    """One of the freelancer's invoices, or None (another freelancer's is None too)."""
    return session.scalar(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.freelancer_id == freelancer_id)
    )


def list_invoices(session: Session, freelancer_id: int) -> list[Invoice]:
    """The freelancer's invoices and credit notes, newest first."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.freelancer_id == freelancer_id)
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        )
    )


def find_by_source(
    session: Session, freelancer_id: int, source_type: str, source_id: str | int
) -> Invoice | None:
    """The invoice (not credit note) issued for a billed thing, if any."""
    return session.scalar(
        select(Invoice).where(
            Invoice.freelancer_id == freelancer_id,
            Invoice.kind != KIND_CREDIT_NOTE,
            Invoice.source_type == source_type,
            Invoice.source_id == str(source_id),
        )
    )


def find_by_payment(session: Session, payment_id: int) -> Invoice | None:
    """The invoice a ledger payment was recorded against, if any."""
    return session.scalar(
        select(Invoice).join(InvoicePayment).where(InvoicePayment.payment_id == payment_id)
    )
