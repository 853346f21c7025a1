"""Due work of sessions: expire unpaid bookings, place far-away holds, cancel what was not
secured in time, collect after the session, and reconcile payments left unknown.

Each runner selects candidates, then handles each booking in its own
transaction under the booking's row lock, re-checking the state: run twice,
or on two workers at once, each thing happens once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import payments
from billing.errors import BillingError
from billing.models import Payment
from webapp.booking import facade
from webapp.booking.models import CONFIRMED, HOLD, PENDING_PAYMENT, REQUIRES_ACTION, Booking
from webapp.booking.service import SUBJECT, settings_grace
from webapp.due import due_runner

BATCH = 200
# A payment row still `created` after this was abandoned mid-call: reconcile it.
STUCK_AFTER = timedelta(minutes=2)


def _each(session: Session, ids: list[int], fn, now: datetime) -> list[str]:
    lines = []
    for booking_id in ids:
        try:
            line = fn(session, booking_id, now)
        except BillingError as exc:
            session.rollback()
            line = f"booking {booking_id}: {type(exc).__name__}: {exc}"
        if line:
            lines.append(line if isinstance(line, str) else f"booking {booking_id}: expired")
    return lines


@due_runner("booking-expire")
def expire_pending(session: Session, now: datetime) -> list[str]:
    """Pending bookings unpaid after 15 minutes free their slot."""
    ids = list(
        session.scalars(
            select(Booking.id)
            .where(
                Booking.status.in_((PENDING_PAYMENT, REQUIRES_ACTION)),
                Booking.pending_expires_at <= now,
            )
            .order_by(Booking.id)
            .limit(BATCH)
        )
    )
    session.rollback()
    return _each(session, ids, facade.expire, now)


@due_runner("booking-holds")
def place_holds(session: Session, now: datetime) -> list[str]:
    """Far-away `hold` sessions: place the off-session hold when it is due."""
    ids = list(
        session.scalars(
            select(Booking.id)
            .where(
                Booking.status == CONFIRMED,
                Booking.payment_policy == HOLD,
                Booking.payment_state == "card_saved",
                Booking.hold_due_at <= now,
            )
            .order_by(Booking.hold_due_at)
            .limit(BATCH)
        )
    )
    session.rollback()
    return _each(session, ids, facade.place_hold, now)


@due_runner("booking-secure-deadline")
def cancel_unsecured(session: Session, now: datetime) -> list[str]:
    """`hold` sessions not secured by their deadline are cancelled (the freelancer's rule)."""
    ids = list(
        session.scalars(
            select(Booking.id)
            .where(
                Booking.status == CONFIRMED,
                Booking.payment_policy == HOLD,
                Booking.payment_state.in_(("card_saved", "failed", "released")),
                # Deadlines are at most 6 days before the start.
                Booking.start_at <= now + timedelta(days=7),
            )
            .order_by(Booking.start_at)
            .limit(BATCH)
        )
    )
    session.rollback()
    return _each(session, ids, facade.cancel_unsecured, now)


@due_runner("booking-collect")
def collect(session: Session, now: datetime) -> list[str]:
    """After end + grace: capture holds, charge deposit balances, mark completed."""
    grace = settings_grace(current_app.config)
    ids = list(
        session.scalars(
            select(Booking.id)
            .where(Booking.status == CONFIRMED, Booking.end_at <= now - grace)
            .order_by(Booking.end_at)
            .limit(BATCH)
        )
    )
    session.rollback()
    return _each(session, ids, facade.collect, now)


@due_runner("booking-reconcile")
def reconcile_stuck(session: Session, now: datetime) -> list[str]:
    """Payments whose Stripe outcome is unknown (a crash or timeout mid-call)."""
    rows = list(
        session.scalars(
            select(Payment.id)
            .where(
                Payment.subject_type == SUBJECT,
                Payment.status == payments.CREATED,
                Payment.created_at <= now - STUCK_AFTER,
            )
            .order_by(Payment.id)
            .limit(BATCH)
        )
    )
    session.rollback()
    lines = []
    for payment_id in rows:
        payment = session.get(Payment, payment_id)
        try:
            payment = payments.reconcile(
                session, facade.gateway_for(payment.freelancer_id), payment_id, now=now
            )
            session.commit()
            lines.append(f"payment {payment_id}: {payment.status}")
        except BillingError as exc:
            session.rollback()
            lines.append(f"payment {payment_id}: {type(exc).__name__}: {exc}")
    return lines
