"""One booking as an aggregate: its states, its timeline, its lock and its terms.

Every status change goes through `transition` (the `MACHINE` table) and
leaves an event. `lock_booking` is the first lock any booking write takes
(then its payments: the one lock order of `docs/design.md`). Lookups by
freelancer or by the client's manage link live here too, as the ways in.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from billing.gateway.port import PaymentGateway
from billing.locking import lock
from billing.payments import Subject
from billing.states import StateMachine
from webapp.accounts.models import hash_token
from webapp.booking import policies
from webapp.booking.errors import NotFound
from webapp.booking.models import (
    CANCELLED,
    COMPLETED,
    CONFIRMED,
    EXPIRED,
    HOLD,
    NO_SHOW,
    PENDING_PAYMENT,
    REQUIRES_ACTION,
    Booking,
    Offering,
)

SUBJECT = "booking"
PENDING_TTL = timedelta(minutes=15)
SECURING = ("charge", "hold", "deposit")

# Table-driven transitions of a booking; anything else is `NotAllowed`.
MACHINE = StateMachine(
    "booking",
    {
        PENDING_PAYMENT: {REQUIRES_ACTION, CONFIRMED, CANCELLED, EXPIRED},
        REQUIRES_ACTION: {PENDING_PAYMENT, CONFIRMED, CANCELLED, EXPIRED},
        CONFIRMED: {CANCELLED, COMPLETED, NO_SHOW},
        CANCELLED: set(),
        COMPLETED: set(),
        NO_SHOW: set(),
        EXPIRED: set(),
    },
)
TRANSITIONS = MACHINE.table


def subject(booking: Booking) -> Subject:
    """The ledger subject of a booking's payments."""
    return Subject(SUBJECT, booking.id)


def record(session: Session, booking: Booking, action: str, actor: str, **data: object) -> None:
    """Append one event to the booking's timeline, then tell the `LISTENERS`."""
    events.record(
        session,
        subject_type=SUBJECT,
        subject_id=booking.id,
        action=action,
        actor=actor,
        freelancer_id=booking.freelancer_id,
        data=dict(data),
    )
    for listener in LISTENERS:
        listener(session, booking, action)


# What follows a booking's timeline in the same transaction (the calendar
# write-back queues its work there); added by features' `register(app)`.
LISTENERS: list[Callable[[Session, Booking, str], None]] = []


def listen(listener: Callable[[Session, Booking, str], None]) -> None:
    """Call `listener(session, booking, action)` after each timeline event (once per listener)."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def transition(
    session: Session, booking: Booking, new_status: str, *, actor: str, **data: object
) -> None:
    """Move the booking to `new_status`; `AlreadyDone` if there, `NotAllowed` if forbidden."""
    old = booking.status
    MACHINE.require(old, new_status, what=f"booking {booking.id}")
    booking.status = new_status
    if "target_minor" in data:
        booking.settle_target_minor = int(data["target_minor"])  # type: ignore[call-overload]
    elif new_status == EXPIRED:
        booking.settle_target_minor = 0
    if new_status in (CANCELLED, EXPIRED):
        booking.cancelled_by = actor
        booking.cancelled_at = utcnow()
    session.flush()
    record(session, booking, f"booking_{new_status}", actor, **{"from": old, **data})


def lock_booking(session: Session, booking_id: int) -> Booking:
    """The booking, locked for the rest of the transaction."""
    booking = lock(session, Booking, booking_id)
    if booking is None:
        raise NotFound(f"no booking {booking_id}")
    return booking


def booking_for_client(session: Session, booking_id: int, token: str) -> Booking:
    """The booking a manage link opens, or `NotFound` (the same for a wrong token)."""
    booking = session.get(Booking, booking_id)
    if booking is None or not hmac.compare_digest(
        booking.manage_token_hash, hash_token(token or "")
    ):
        raise NotFound("no such booking")
    return booking


def get_booking(session: Session, freelancer_id: int, booking_id: int) -> Booking:
    """One booking of this freelancer, or `NotFound`."""
    booking = session.scalar(
        select(Booking).where(Booking.id == booking_id, Booking.freelancer_id == freelancer_id)
    )
    if booking is None:
        raise NotFound(f"no booking {booking_id}")
    return booking


def list_bookings(
    session: Session, freelancer_id: int, *, upcoming: bool | None = None, limit: int = 200
) -> list[Booking]:
    """The freelancer's bookings: upcoming soonest first, past most recent first."""
    now = utcnow()
    query = select(Booking).where(Booking.freelancer_id == freelancer_id)
    if upcoming is True:
        query = query.where(Booking.end_at >= now).order_by(Booking.start_at)
    elif upcoming is False:
        query = query.where(Booking.end_at < now).order_by(Booking.start_at.desc())
    else:
        query = query.order_by(Booking.start_at.desc())
    return list(session.scalars(query.limit(limit)))


def terms_of(booking: Booking) -> policies.Terms:
    """The money terms the booking was made with."""
    return policies.Terms(
        policy=booking.payment_policy,
        amount_minor=booking.amount_minor,
        currency=booking.currency,
        deposit_bp=booking.deposit_bp,
        free_cancel_hours=booking.free_cancel_hours,
        late_cancel_fee_bp=booking.late_cancel_fee_bp,
        no_show_fee_bp=booking.no_show_fee_bp,
    )


def hold_policy_unsecured(booking: Booking) -> bool:
    """A confirmed `hold` booking whose hold is not (or no longer) in place."""
    return (
        booking.status == CONFIRMED
        and booking.payment_policy == HOLD
        and booking.payment_state in ("card_saved", "failed", "released")
    )


def settings_grace(config: dict) -> timedelta:
    """Session end plus this: when the money is collected."""
    return timedelta(minutes=int(config.get("BOOKING_CAPTURE_GRACE_MINUTES", 60)))


def grace() -> timedelta:
    """The running app's grace after a session's end."""
    return settings_grace(current_app.config)


def offering_hold_lead(session: Session, booking: Booking) -> timedelta:
    """The freelancer's chosen lead time for far-away holds."""
    offering = session.get(Offering, booking.offering_id)
    return timedelta(hours=offering.hold_lead_hours if offering else 72)


def gateway_for(freelancer_id: int) -> PaymentGateway:
    """The Stripe gateway acting for the freelancer."""
    from webapp.stripe_connect import gateway

    return gateway(freelancer_id)
