"""The ledger seen from a booking: its totals, its payment state, and what it hears.

Totals are derived from the payment rows, never stored; `payment_state` is
the one cached word the bookings table shows. `subscribe_to_ledger` (an app
factory step) registers how the ledger locks a booking, what a payment
change does to it (confirm, or mark late money for the settle sweep) and what
the invoices' ledger subscriber invoices and credits for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events, outcomes, payments
from billing.locking import lock
from billing.models import Payment
from webapp.booking import emails, invoicing, policies
from webapp.booking.lifecycle import SECURING, SUBJECT, record, transition
from webapp.booking.models import (
    CANCELLED,
    CONFIRMED,
    EXPIRED,
    NO_SHOW,
    PENDING_PAYMENT,
    REQUIRES_ACTION,
    Booking,
)
from webapp.invoices import ledger as invoices


def booking_payments(session: Session, booking: Booking) -> list[Payment]:
    """Every payment of the booking, oldest first."""
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.subject_type == SUBJECT, Payment.subject_id == str(booking.id))
            .order_by(Payment.id)
        )
    )


@dataclass
class Totals:
    """What the ledger says about a booking's money, in minor units."""

    secured_minor: int = 0
    captured_minor: int = 0
    refunded_minor: int = 0
    released_minor: int = 0
    last: Payment | None = None
    held: list[policies.Held] = field(default_factory=list)
    collected: list[policies.Collected] = field(default_factory=list)


def totals(session: Session, booking: Booking) -> Totals:
    """Derived from the payment rows, never stored."""
    out = Totals()
    for payment in booking_payments(session, booking):
        out.last = payment
        if payment.status == payments.AUTHORIZED:
            out.secured_minor += payment.amount_capturable_minor
            out.held.append(
                policies.Held(payment.id, payment.amount_capturable_minor, payment.hold_expires_at)
            )
        elif payment.status == payments.SUCCEEDED:
            net = payment.amount_captured_minor - payment.amount_refunded_minor
            out.captured_minor += net
            out.refunded_minor += payment.amount_refunded_minor
            if payment.capture_method == "manual":
                out.released_minor += payment.amount_minor - payment.amount_captured_minor
            out.collected.append(policies.Collected(payment.id, net))
        elif payment.status == payments.CANCELED and payment.authorized_at is not None:
            out.released_minor += payment.amount_minor
    return out


def payment_state(booking: Booking, t: Totals) -> str:
    """One word for the bookings table: secured, captured, released, refunded, fee_charged…"""
    if t.last is not None and t.last.status == payments.FAILED:
        return "failed"
    if t.last is not None and t.last.status == payments.REQUIRES_ACTION:
        return "action_required"
    if t.secured_minor > 0:
        return "secured"
    if booking.status in (CANCELLED, NO_SHOW) and t.captured_minor > 0:
        return "fee_charged"
    if t.captured_minor > 0:
        return "captured"
    if t.refunded_minor > 0:
        return "refunded"
    if t.released_minor > 0:
        return "released"
    if booking.payment_method_id:
        return "card_saved"
    return "none"


def refresh_payment_state(session: Session, booking: Booking) -> str:
    """Recompute the cached payment state; record a change on the timeline."""
    new = payment_state(booking, totals(session, booking))
    if new != booking.payment_state:
        old, booking.payment_state = booking.payment_state, new
        session.flush()
        record(session, booking, "payment_state_changed", events.SYSTEM, **{"from": old, "to": new})
    return new


def _lock_subject(session: Session, subject_id: str) -> None:
    # The ledger takes the booking's lock before its payment's: one lock order.
    lock(session, Booking, int(subject_id))


# Closed bookings that keep nothing of a late payment but a fee, if any.
CLOSED = (CANCELLED, EXPIRED)


def subscribe_to_ledger() -> None:
    """What bookings hear from the ledger (the app factory's step; idempotent)."""
    outcomes.register_subject_lock(SUBJECT, _lock_subject)
    outcomes.subscribe(SUBJECT)(on_payment_change)
    invoices.register(
        SUBJECT,
        invoicing.what_to_invoice,
        not_issued=invoicing.NOT_ISSUED,
        credit_not_issued=invoicing.CREDIT_NOT_ISSUED,
    )


def on_payment_change(session: Session, payment: Payment, old: str, new: str) -> None:
    """Keep the booking in step with its payments (synchronous answers and webhooks)."""
    booking = session.get(Booking, int(payment.subject_id))
    if booking is None or booking.freelancer_id != payment.freelancer_id:
        return
    if (
        payment.purpose in SECURING
        and booking.status in CLOSED
        and new in (payments.AUTHORIZED, payments.SUCCEEDED)
    ):
        # Money that arrived after the booking closed (3-D Secure completed
        # after it expired, or while it was being cancelled): the choice is to
        # give it back in full (or down to the fee already due), never to
        # book a slot that may have gone to someone else. The settle sweep
        # does it, outside this transaction.
        booking.settle_due = True
        record(session, booking, "late_payment_to_return", events.SYSTEM, payment_id=payment.id)
    if payment.purpose in SECURING:
        if new in (payments.AUTHORIZED, payments.SUCCEEDED) and booking.status in (
            PENDING_PAYMENT,
            REQUIRES_ACTION,
        ):
            transition(session, booking, CONFIRMED, actor=events.SYSTEM, payment_id=payment.id)
            booking.pending_expires_at = None
            emails.send_confirmation(session, booking)
        elif new == payments.REQUIRES_ACTION and booking.status == PENDING_PAYMENT:
            transition(session, booking, REQUIRES_ACTION, actor=events.SYSTEM)
        elif new == payments.FAILED and booking.status == REQUIRES_ACTION:
            transition(session, booking, PENDING_PAYMENT, actor=events.SYSTEM)
    if new == payments.FAILED:
        record(
            session,
            booking,
            "booking_payment_failed",
            events.SYSTEM,
            payment_id=payment.id,
            purpose=payment.purpose,
            failure_code=payment.failure_code,
            off_session=payment.off_session,
        )
    refresh_payment_state(session, booking)
