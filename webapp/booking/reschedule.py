"""Rescheduling: the client moves a booking to another free slot without paying twice.

Only while cancelling is still free. The move takes the same per-freelancer
claim lock as a new booking (`claim.serialise_writers`), after the booking's
own lock; a hold that would lapse before the new date is released and placed
again by the due runner shortly before it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from billing import events, payments
from billing.db import utcnow
from billing.errors import NotAllowed
from billing.gateway.port import PaymentGateway
from webapp.accounts.models import Freelancer
from webapp.booking import emails, policies
from webapp.booking.claim import offered_slot, serialise_writers
from webapp.booking.errors import SlotTaken
from webapp.booking.ledger import refresh_payment_state, totals
from webapp.booking.lifecycle import (
    booking_for_client,
    gateway_for,
    grace,
    lock_booking,
    offering_hold_lead,
    record,
    terms_of,
)
from webapp.booking.models import CONFIRMED, HOLD, PENDING_PAYMENT, Booking, Offering


def reschedule(
    session: Session, booking_id: int, token: str, start: datetime, *, now: datetime | None = None
) -> dict:
    """Move to another free slot without paying twice; only while cancelling is still free."""
    now = now or utcnow()
    booking_for_client(session, booking_id, token)
    booking = lock_booking(session, booking_id)
    if booking.status not in (PENDING_PAYMENT, CONFIRMED):
        raise NotAllowed(f"this booking is {booking.status}")
    terms = terms_of(booking)
    if now > policies.free_cancel_until(booking.start_at, terms):
        raise NotAllowed("too late to reschedule; the cancellation terms apply")
    freelancer = session.get(Freelancer, booking.freelancer_id)
    offering = session.get(Offering, booking.offering_id)
    serialise_writers(session, booking.freelancer_id)
    slot = offered_slot(session, freelancer, offering, start, now, exclude_booking_id=booking.id)
    old_start = booking.start_at
    try:
        with session.begin_nested():
            booking.start_at, booking.end_at = slot.start, slot.end
            booking.block_start, booking.block_end = slot.block_start, slot.block_end
            booking.reschedule_count += 1
            session.flush()
    except Exception as exc:
        if "booking_no_overlap" in str(exc):
            raise SlotTaken("slot taken") from None
        raise
    record(
        session,
        booking,
        "booking_rescheduled",
        events.CLIENT,
        **{"from": old_start.isoformat(), "to": slot.start.isoformat()},
    )
    gateway = gateway_for(booking.freelancer_id)
    if booking.status == CONFIRMED and booking.payment_policy == HOLD:
        _rearrange_hold(session, gateway, booking, now)
    if booking.status == CONFIRMED:
        emails.send_confirmation(session, booking, rescheduled=True)
    session.commit()
    return {
        "status": booking.status,
        "start": booking.start_at.isoformat(),
        "end": booking.end_at.isoformat(),
    }


def _rearrange_hold(
    session: Session, gateway: PaymentGateway, booking: Booking, now: datetime
) -> None:
    # A hold that would lapse before the new end is released; the saved card
    # is held again shortly before the new date (by the due runner).
    slack = grace()
    lead = offering_hold_lead(session, booking)
    t = totals(session, booking)
    for hold in t.held:
        if hold.expires_at is not None and hold.expires_at <= booking.end_at + slack:
            payments.release(session, gateway, hold.payment_id, now=now, reason="rescheduled")
    booking.hold_due_at = policies.hold_due_at(
        booking.start_at, booking.end_at, hold_lead=lead, grace=slack
    )
    session.flush()
    refresh_payment_state(session, booking)
