"""Issued e-invoices handed to the approved platform, item by item (due kind
`einvoice-transmit`).

Each stored e-invoice (`EInvoice`) is looked at once: an invoice to a business
in France (BAR `B2B`) is transmitted through the configured `Platform`; the
others (consumers, businesses abroad) are marked for e-reporting, which
exports them per period instead. A transmission that fails for now is retried
with backoff (1, 2, 4 … 60 minutes), the error kept on the row; one the
platform refuses stays refused, with its reason, for the freelancer to see.

The platform call is made with no transaction open (a platform is remote):
read, commit, call, then record under the row's lock, unless another run
recorded it meanwhile. A repeat after a crash hands the same flow again, and a
platform answers a repeat with the same reference (the port's contract).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.facturx.cii import buyer_kind, siren_of
from billing.facturx.models import EInvoice
from billing.facturx.platform import (
    OutgoingFlow,
    PlatformRefused,
    PlatformUnavailable,
    platform_from_config,
)
from billing.invoicing.models import Invoice
from billing.locking import lock
from webapp.due import DueKind

BATCH = 100
SENT, RETRY, REFUSED, E_REPORTING = "sent", "retry", "refused", "e-reporting"
MAX_BACKOFF = timedelta(minutes=60)


def find_to_transmit(session: Session, now: datetime) -> list[int]:
    """E-invoices never looked at, and failed transmissions whose retry time came."""
    new = session.scalars(
        select(EInvoice.id)
        .where(EInvoice.transmission.is_(None))
        .order_by(EInvoice.id)
        .limit(BATCH)
    )
    due = session.scalars(
        select(EInvoice.id)
        .where(EInvoice.transmission == RETRY, EInvoice.retry_at <= now)
        .limit(BATCH)
    )
    return sorted({*new, *due})[:BATCH]


def _flow(session: Session, row: EInvoice, invoice: Invoice) -> OutgoingFlow:
    from billing.invoicing.documents import issued_pdf

    return OutgoingFlow(
        invoice_id=invoice.id,
        number=invoice.number,
        kind=invoice.kind,
        issue_date=invoice.issue_date,
        seller_siren=siren_of(invoice.seller),
        buyer_siren=siren_of(invoice.buyer),
        xml=row.xml,
        pdf=issued_pdf(session, invoice),
    )


def transmit(session: Session, einvoice_id: int, now: datetime) -> str | None:
    """Transmit one e-invoice, or mark it for e-reporting; commits. A line, or None."""
    row = lock(session, EInvoice, einvoice_id)
    if row is None or row.transmission not in (None, RETRY):
        session.rollback()
        return None
    if row.transmission == RETRY and row.retry_at and row.retry_at > now:
        session.rollback()
        return None
    invoice = session.get(Invoice, row.invoice_id)
    assert invoice is not None
    if buyer_kind(invoice.buyer) != "B2B":
        row.transmission = E_REPORTING
        session.commit()
        return f"invoice {invoice.number}: e-reporting ({buyer_kind(invoice.buyer)})"
    flow = _flow(session, row, invoice)
    session.commit()  # no lock held while the platform answers
    platform = platform_from_config(current_app.config)
    try:
        reference = platform.transmit(flow)
    except PlatformUnavailable as exc:
        return _record(session, einvoice_id, now, error=str(exc), retry=True)
    except PlatformRefused as exc:
        return _record(session, einvoice_id, now, error=str(exc), retry=False)
    return _record(session, einvoice_id, now, reference=f"{platform.name}:{reference}")


def _record(
    session: Session,
    einvoice_id: int,
    now: datetime,
    *,
    reference: str = "",
    error: str = "",
    retry: bool = False,
) -> str | None:
    row = lock(session, EInvoice, einvoice_id)
    if row is None or row.transmission not in (None, RETRY):
        session.rollback()  # another run recorded the answer meanwhile
        return None
    invoice = session.get(Invoice, row.invoice_id)
    assert invoice is not None
    row.transmission_attempts = (row.transmission_attempts or 0) + 1
    if reference:
        row.transmission, row.transmission_ref, row.transmission_error = SENT, reference, ""
        row.transmitted_at, row.retry_at = now, None
        action, line = "einvoice_transmitted", f"invoice {invoice.number}: transmitted"
    elif retry:
        wait = min(timedelta(minutes=2 ** (row.transmission_attempts - 1)), MAX_BACKOFF)
        row.transmission, row.transmission_error, row.retry_at = RETRY, error, now + wait
        action, line = "einvoice_transmission_failed", f"invoice {invoice.number}: retry ({error})"
    else:
        row.transmission, row.transmission_error, row.retry_at = REFUSED, error, None
        action, line = "einvoice_refused", f"invoice {invoice.number}: refused ({error})"
    events.record(
        session,
        subject_type="invoice",
        subject_id=invoice.id,
        action=action,
        freelancer_id=invoice.freelancer_id,
        data={"reference": reference, "error": error},
    )
    session.commit()
    return line


def due_kinds() -> list[DueKind]:
    """The transmission's due kind (its failures filed under no freelancer: the
    e-invoice row has none; the invoice's timeline has the events)."""
    return [DueKind("einvoice-transmit", "einvoice", find_to_transmit, transmit, EInvoice)]
