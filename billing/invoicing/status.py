"""An invoice's status: derived from its payments and credit notes, moved
forward only through `MACHINE`, with an event row per change and the
subscribers (dunning) told in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from billing import events
from billing.errors import NotAllowed
from billing.invoicing.amounts import balance_due, credited_minor, paid_minor
from billing.invoicing.models import CREDITED, ISSUED, PAID, PARTIALLY_PAID, Invoice
from billing.locking import lock
from billing.states import StateMachine

# Invoice statuses move forward, except when a recorded transfer is reversed (a bank
# match undone, issue 17): then a paid invoice is owed again.
MACHINE = StateMachine(
    "invoice",
    {
        ISSUED: {PARTIALLY_PAID, PAID, CREDITED},
        PARTIALLY_PAID: {ISSUED, PAID, CREDITED},
        PAID: {ISSUED, PARTIALLY_PAID, CREDITED},
        CREDITED: set(),
    },
)
TRANSITIONS = MACHINE.table

StatusSubscriber = Callable[[Session, Invoice, str, str], None]
_subscribers: list[StatusSubscriber] = []


def on_status_change(fn: StatusSubscriber) -> StatusSubscriber:
    """Decorator: call `fn(session, invoice, old, new)` after each status change (dunning)."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def remove_subscriber(fn: StatusSubscriber) -> None:
    """Forget a subscriber (tests)."""
    if fn in _subscribers:
        _subscribers.remove(fn)


def derived_status(invoice: Invoice) -> str:
    """The status the invoice's payments and credit notes add up to."""
    total = invoice.total_incl_vat_minor
    credited = credited_minor(invoice)
    paid = paid_minor(invoice)
    if credited >= total:
        return CREDITED
    if paid > 0 and paid + credited >= total:
        return PAID
    if paid > 0:
        return PARTIALLY_PAID
    return ISSUED


def refresh_status(session: Session, invoice: Invoice, *, actor: str) -> None:
    """Move the invoice to its derived status, record the event, tell the subscribers.

    Nothing happens when the status is unchanged; a backward move is refused
    by `MACHINE`.
    """
    old, new = invoice.status, derived_status(invoice)
    if not MACHINE.check(old, new, what=f"invoice {invoice.number}"):
        return
    invoice.status = new
    session.flush()
    events.record(
        session,
        subject_type="invoice",
        subject_id=invoice.id,
        action=f"invoice_{new}",
        actor=actor,
        freelancer_id=invoice.freelancer_id,
        data={"from": old, "number": invoice.number, "balance_due_minor": balance_due(invoice)},
    )
    for fn in list(_subscribers):
        fn(session, invoice, old, new)


def lock_invoice(session: Session, invoice_id: int) -> Invoice:
    """The invoice, row-locked, with fresh payments and credit notes; `NotAllowed` if absent."""
    invoice = lock(session, Invoice, invoice_id)
    if invoice is None:
        raise NotAllowed(f"no invoice {invoice_id}")
    # Collections may be stale after the lock's reload.
    session.refresh(invoice, ["payments", "credit_notes"])
    return invoice
