"""The due work of every feature, in the order run-due runs it.

Stripe's news first (webhooks), then what Stripe says of payments left in
doubt, then the features' money movements, then dunning (which reads their
failures), then e-mail (which sends what they all queued in this same run).

`register_due_work(app)` is the app factory's step; nothing registers itself
on import.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session

from billing import payments
from billing.models import Payment
from webapp.due import DueKind, register_kinds


def find_payments_in_doubt(session: Session, now: datetime) -> list[int]:
    """Every non-final payment that has, or may have, a Stripe object (any feature)."""
    return list(payments.reconcile_candidates(session, now))


def reconcile_payment(session: Session, payment_id: int, now: datetime) -> str | None:
    """Re-read one payment from Stripe and apply Stripe's state to our row."""
    from webapp.stripe_connect import gateway

    payment = session.get(Payment, payment_id)
    if payment is None:
        return None
    before = payment.status
    payment = payments.reconcile(session, gateway(payment.freelancer_id), payment_id, now=now)
    if payment.status == before:
        return None
    return f"payment {payment_id}: {before} → {payment.status}"


def due_kinds() -> list[DueKind]:
    """Every feature's due kinds, in run order."""
    from webapp.booking import due as booking
    from webapp.calendars import sync as calendar_sync
    from webapp.calendars import writeback as calendar_writeback
    from webapp.dunning import due as dunning
    from webapp.invoices import transmission as einvoices
    from webapp.mail import due as mail
    from webapp.messages import due as messages
    from webapp.notifications import catch_up, reminders
    from webapp.quotes import due as quotes
    from webapp.webhooks import due as webhooks

    kinds = webhooks.due_kinds()
    kinds.append(
        DueKind("payments-reconcile", "payment", find_payments_in_doubt, reconcile_payment, Payment)
    )
    kinds += booking.due_kinds()
    # The freelancer's calendars: busy times read, booking events written.
    kinds += calendar_sync.due_kinds()
    kinds += calendar_writeback.due_kinds()
    kinds += quotes.due_kinds()
    kinds += messages.due_kinds()
    kinds += dunning.due_kinds()
    # Issued e-invoices to the approved platform (after the features issued them).
    kinds += einvoices.due_kinds()
    kinds += reminders.due_kinds()
    # Cancellation and fix-card notices whose status change committed without them.
    kinds += catch_up.due_kinds()
    kinds += mail.due_kinds()
    return kinds


def register_due_work(app: Flask) -> None:
    """The app factory's step: make every feature's due kinds the app's due work."""
    register_kinds(app, due_kinds())
