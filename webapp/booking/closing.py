"""Closing a booking: cancellations, completion, no-show, and the due work that ends or secures one.

Each use case locks the booking, checks its state, settles the money to what
the terms leave with the freelancer (`settlement.settle`), moves the booking
and tells the client; each commits. The due kinds (`webapp.booking.due`) run
`expire`, `place_hold`, `cancel_unsecured`, `collect` and `settle_late`
item by item: run twice, or on two workers at once, each thing happens once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from billing import events, payments
from billing.db import utcnow
from billing.errors import AlreadyDone, NotAllowed
from webapp.booking import policies
from webapp.booking.ledger import refresh_payment_state, totals
from webapp.booking.lifecycle import (
    booking_for_client,
    gateway_for,
    get_booking,
    grace,
    hold_policy_unsecured,
    lock_booking,
    terms_of,
    transition,
)
from webapp.booking.models import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    CONFIRMED,
    EXPIRED,
    HOLD,
    NO_SHOW,
    PENDING_PAYMENT,
    REQUIRES_ACTION,
    Booking,
)
from webapp.booking.settlement import (
    abandon_unfinished,
    cancellation_quote,
    execute,
    expire_pending,
    prepare,
    settle,
)
from webapp.notifications import catch_up


def _close(
    session: Session,
    booking: Booking,
    new_status: str,
    target_minor: int,
    *,
    actor: str,
    reason: str,
    now: datetime,
    notify_client: bool,
) -> dict:
    """Settle the money to `target_minor`, move the booking, tell the client; commits."""
    gateway = gateway_for(booking.freelancer_id)
    if booking.status in (PENDING_PAYMENT, REQUIRES_ACTION):
        # Abandon an unfinished payment (3-D Secure left open) before closing;
        # one that succeeded meanwhile is settled below like any other money.
        booking = abandon_unfinished(session, gateway, booking, now, actor=actor, reason=reason)
    # The booking ends first, so that money moved by the settlement (a fee kept
    # on a late cancellation or a no-show) is invoiced as what it is.
    transition(session, booking, new_status, actor=actor, target_minor=target_minor, reason=reason)
    to_execute = settle(
        session, gateway, booking, target_minor, now=now, actor=actor, reason=reason
    )
    refresh_payment_state(session, booking)
    session.commit()
    if to_execute:
        execute(session, gateway, to_execute, now)
        refresh_payment_state(session, booking)
    if notify_client and new_status == CANCELLED:
        # Once only, under the booking's lock: the `booking-notices` sweep sends
        # it instead if we die before this commit (webapp.notifications.catch_up).
        catch_up.send_cancellation_once(session, booking.id, reason=reason)
    session.commit()
    return _closed_answer(session, booking)


def _closed_answer(session: Session, booking: Booking) -> dict:
    t = totals(session, booking)
    return {
        "status": booking.status,
        "fee_amount_minor": t.captured_minor,
        "refunded_amount_minor": t.refunded_minor,
        "released_amount_minor": t.released_minor,
        "payment_state": booking.payment_state,
        "currency": booking.currency,
    }


def cancel_by_client(
    session: Session, booking_id: int, token: str, *, now: datetime | None = None
) -> dict:
    """Client cancellation through the manage link: free in time, else the late fee."""
    now = now or utcnow()
    booking_for_client(session, booking_id, token)
    booking = lock_booking(session, booking_id)
    if booking.status == CANCELLED:
        session.commit()
        return _closed_answer(session, booking)
    if booking.status not in ACTIVE:
        raise NotAllowed(f"this booking is {booking.status}")
    if now >= booking.start_at:
        raise NotAllowed("the session has started; it can no longer be cancelled")
    fee = cancellation_quote(booking, now)["fee_amount_minor"]
    return _close(
        session,
        booking,
        CANCELLED,
        fee,
        actor=events.CLIENT,
        reason="late cancellation" if fee else "cancelled in time",
        now=now,
        notify_client=True,
    )


def cancel_by_freelancer(
    session: Session, freelancer_id: int, booking_id: int, *, now: datetime | None = None
) -> dict:
    """The freelancer cancels: everything is released or refunded to the client."""
    now = now or utcnow()
    get_booking(session, freelancer_id, booking_id)
    booking = lock_booking(session, booking_id)
    if booking.status == CANCELLED:
        raise AlreadyDone("already cancelled")
    return _close(
        session,
        booking,
        CANCELLED,
        0,
        actor=events.freelancer_actor(freelancer_id),
        reason="cancelled by the freelancer",
        now=now,
        notify_client=True,
    )


def _started(booking: Booking, now: datetime) -> None:
    if booking.status != CONFIRMED:
        if booking.status in (COMPLETED, NO_SHOW):
            raise AlreadyDone(f"already {booking.status}")
        raise NotAllowed(f"this booking is {booking.status}")
    if now < booking.start_at:
        raise NotAllowed("the session has not started yet")


def complete(
    session: Session, freelancer_id: int, booking_id: int, *, now: datetime | None = None
) -> dict:
    """Mark completed (early): the full price is collected now."""
    now = now or utcnow()
    get_booking(session, freelancer_id, booking_id)
    booking = lock_booking(session, booking_id)
    _started(booking, now)
    return _close(
        session,
        booking,
        COMPLETED,
        booking.amount_minor,
        actor=events.freelancer_actor(freelancer_id),
        reason="session completed",
        now=now,
        notify_client=False,
    )


def mark_no_show(
    session: Session, freelancer_id: int, booking_id: int, *, now: datetime | None = None
) -> dict:
    """The client did not come: the no-show fee is kept, the rest released or refunded."""
    now = now or utcnow()
    get_booking(session, freelancer_id, booking_id)
    booking = lock_booking(session, booking_id)
    _started(booking, now)
    return _close(
        session,
        booking,
        NO_SHOW,
        policies.no_show_fee(terms_of(booking)),
        actor=events.freelancer_actor(freelancer_id),
        reason="no-show",
        now=now,
        notify_client=False,
    )


def expire(session: Session, booking_id: int, now: datetime) -> bool:
    """Free the slot of a pending booking whose 15 minutes have passed; commits."""
    booking = lock_booking(session, booking_id)
    if booking.status not in (PENDING_PAYMENT, REQUIRES_ACTION) or (
        booking.pending_expires_at is None or booking.pending_expires_at > now
    ):
        session.rollback()
        return False
    try:
        expire_pending(session, gateway_for(booking.freelancer_id), booking, now)
    except payments.InFlight:
        # The client is paying right now: decide on the next run.
        session.rollback()
        return False
    session.commit()
    return booking.status == EXPIRED


def settle_late(session: Session, booking_id: int, now: datetime) -> str | None:
    """Give back money that arrived after the booking closed (down to its fee); commits."""
    booking = lock_booking(session, booking_id)
    if not booking.settle_due:
        session.rollback()
        return None
    target = booking.settle_target_minor or 0
    gateway = gateway_for(booking.freelancer_id)
    before = totals(session, booking)
    to_execute = settle(
        session, gateway, booking, target, now=now, actor=events.SYSTEM, reason="paid after closing"
    )
    booking = lock_booking(session, booking_id)
    booking.settle_due = False
    refresh_payment_state(session, booking)
    # In the same commit: the notice owed once the money is back (the sweep sends it if we die).
    settling = events.record(
        session,
        subject_type="booking",
        subject_id=booking.id,
        action=catch_up.LATE_MONEY_EVENT,
        freelancer_id=booking.freelancer_id,
        actor=events.SYSTEM,
        data={"refunded_minor": before.refunded_minor, "released_minor": before.released_minor},
    )
    session.commit()
    if to_execute:
        execute(session, gateway, to_execute, now)
    catch_up.send_late_money_once(session, settling.id)
    session.commit()
    t = totals(session, booking)
    return f"booking {booking.id}: late payment settled, {t.captured_minor} kept"


def place_hold(session: Session, booking_id: int, now: datetime) -> str | None:
    """Place the off-session hold of a far-away session when it is due; commits."""
    booking = lock_booking(session, booking_id)
    if not (
        booking.status == CONFIRMED
        and booking.payment_policy == HOLD
        and booking.payment_state == "card_saved"
        and booking.hold_due_at is not None
        and booking.hold_due_at <= now
    ):
        session.rollback()
        return None
    gateway = gateway_for(booking.freelancer_id)
    payment = prepare(session, booking, booking.amount_minor, "hold", "manual", True)
    session.commit()
    execute(session, gateway, [payment.id], now)
    session.refresh(payment)
    if payment.status == payments.FAILED:
        # Once only; the `booking-notices` sweep asks instead if we die before this commit.
        catch_up.send_fix_card_once(session, booking.id, payment.id)
    session.commit()
    return f"booking {booking.id}: hold {payment.status}"


def cancel_unsecured(session: Session, booking_id: int, now: datetime) -> str | None:
    """Cancel a `hold` booking not secured by its deadline before the start; commits."""
    booking = lock_booking(session, booking_id)
    deadline = booking.start_at - timedelta(hours=booking.secure_deadline_hours)
    if not (hold_policy_unsecured(booking) and now >= deadline):
        session.rollback()
        return None
    _close(
        session,
        booking,
        CANCELLED,
        0,
        actor=events.SYSTEM,
        reason="not secured in time",
        now=now,
        notify_client=True,
    )
    return f"booking {booking.id}: cancelled, card not secured by {deadline.isoformat()}"


def collect(session: Session, booking_id: int, now: datetime) -> str | None:
    """After the session's end plus grace: capture the hold or charge the balance; commits."""
    booking = lock_booking(session, booking_id)
    if booking.status != CONFIRMED or booking.end_at + grace() > now:
        session.rollback()
        return None
    answer = _close(
        session,
        booking,
        COMPLETED,
        booking.amount_minor,
        actor=events.SYSTEM,
        reason="session completed",
        now=now,
        notify_client=False,
    )
    return f"booking {booking.id}: completed, {answer['payment_state']}"
