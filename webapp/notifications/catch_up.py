"""Notices that follow a status change made in an earlier transaction: sent exactly once.

A cancellation's e-mail states the fee kept, the refund and the release, which
are known only once the money has moved — after the transaction that
cancelled the booking, and after Stripe answered. A failed hold's "fix your
card" e-mail follows the hold's own commit. A crash in between would lose the
e-mail, so:

- each is sent through `send_cancellation_once` / `send_fix_card_once`, under
  the booking's lock, with a `NoticeSent` row (unique per notice) written in the
  transaction that enqueues the e-mail;
- the due kind `booking-notices` finds cancelled bookings and failed holds of
  the last days without their row (a minute after the change, so the request
  that made it sends its own) and sends what is missing.

Either way, the row makes it once. Migration 0021 wrote the rows of what was
told before this sweep existed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, and_, cast, exists, select
from sqlalchemy.orm import Session

from billing import events
from billing.models import Event, Payment, Refund
from webapp.due import DueKind
from webapp.notifications.models import NoticeSent

CANCELLED_NOTICE, FIX_CARD_NOTICE = "booking_cancelled", "fix_card"
# The request that changed the status sends its own notice; the sweep waits this long.
GRACE = timedelta(minutes=1)
# How far back the sweep looks (bounded queries); older changes were told or given up.
WINDOW = timedelta(days=2)
# Money still moving after this long is told as it stands.
SETTLE_WAIT = timedelta(hours=1)
BATCH = 200


def _sent(session: Session, kind: str, subject_type: str, subject_id: int) -> bool:
    return (
        session.scalar(
            select(NoticeSent.id).where(
                NoticeSent.kind == kind,
                NoticeSent.subject_type == subject_type,
                NoticeSent.subject_id == str(subject_id),
            )
        )
        is not None
    )


def _mark(session: Session, kind: str, subject_type: str, subject_id: int) -> None:
    session.add(NoticeSent(kind=kind, subject_type=subject_type, subject_id=str(subject_id)))
    session.flush()


def _money_moving(session: Session, booking_id: int) -> bool:
    """A payment of the booking still open or in flight, or a refund not answered yet."""
    open_statuses = ("created", "requires_action", "processing", "authorized")
    payments = select(Payment.id).where(
        Payment.subject_type == "booking", Payment.subject_id == str(booking_id)
    )
    if session.scalar(
        payments.where((Payment.status.in_(open_statuses)) | (Payment.in_flight.is_not(None)))
    ):
        return True
    return (
        session.scalar(
            select(Refund.id).where(Refund.payment_id.in_(payments), Refund.status == "created")
        )
        is not None
    )


def _cancel_reason(session: Session, booking_id: int) -> str:
    """Why the booking was cancelled, as its timeline recorded it."""
    event = session.scalar(
        select(Event)
        .where(
            Event.subject_type == "booking",
            Event.subject_id == str(booking_id),
            Event.action == "booking_cancelled",
        )
        .order_by(Event.id.desc())
    )
    return str(((event.data if event else None) or {}).get("reason") or "")


def send_cancellation_once(
    session: Session, booking_id: int, *, reason: str | None = None, now: datetime | None = None
) -> bool:
    """The cancellation e-mails (client and freelancer), unless sent already (flushes).

    Locks the booking. With `now` (the sweep), waits while money is still
    moving, so the e-mail states the fee, refund and release as they ended.
    """
    from webapp.booking import emails
    from webapp.booking.ledger import totals
    from webapp.booking.lifecycle import lock_booking
    from webapp.booking.models import CANCELLED

    booking = lock_booking(session, booking_id)
    if booking.status != CANCELLED or _sent(session, CANCELLED_NOTICE, "booking", booking_id):
        return False
    settled_by = (booking.cancelled_at or now or booking.updated_at) + SETTLE_WAIT
    if now is not None and now < settled_by and _money_moving(session, booking_id):
        return False
    t = totals(session, booking)
    emails.send_cancellation(
        session,
        booking,
        fee_minor=t.captured_minor,
        refunded_minor=t.refunded_minor,
        released_minor=t.released_minor,
        by=booking.cancelled_by or events.SYSTEM,
        reason=_cancel_reason(session, booking_id) if reason is None else reason,
    )
    _mark(session, CANCELLED_NOTICE, "booking", booking_id)
    return True


def send_fix_card_once(session: Session, booking_id: int, payment_id: int) -> bool:
    """Ask the client to fix their card after this failed hold, unless asked already (flushes).

    Locks the booking; nothing is sent once the booking moved on (secured
    with another card, cancelled).
    """
    from webapp.booking import emails
    from webapp.booking.lifecycle import lock_booking, record
    from webapp.booking.models import CONFIRMED

    booking = lock_booking(session, booking_id)
    if booking.status != CONFIRMED or booking.payment_state != "failed":
        return False
    if _sent(session, FIX_CARD_NOTICE, "payment", payment_id):
        return False
    emails.send_fix_card(session, booking)
    record(session, booking, "fix_card_requested", events.SYSTEM, payment_id=payment_id)
    _mark(session, FIX_CARD_NOTICE, "payment", payment_id)
    return True


def _failed_holds():  # noqa: ANN202 (a select)
    """Failed off-session holds of bookings, newest last."""
    return select(Payment).where(
        Payment.subject_type == "booking",
        Payment.purpose == "hold",
        Payment.off_session.is_(True),
        Payment.status == "failed",
    )


def find_missing(session: Session, now: datetime) -> list[int]:
    """Bookings whose cancellation or failed hold went untold (changed a minute ago or more)."""
    from webapp.booking.models import CANCELLED, CONFIRMED, Booking

    cancelled = session.scalars(
        select(Booking.id)
        .where(
            Booking.status == CANCELLED,
            Booking.cancelled_at >= now - WINDOW,
            Booking.cancelled_at <= now - GRACE,
            ~exists().where(
                and_(
                    NoticeSent.kind == CANCELLED_NOTICE,
                    NoticeSent.subject_type == "booking",
                    NoticeSent.subject_id == cast(Booking.id, String),
                )
            ),
        )
        .order_by(Booking.cancelled_at)
        .limit(BATCH)
    ).all()
    holds = _failed_holds().subquery()
    unfixed = session.scalars(
        select(Booking.id)
        .join(holds, holds.c.subject_id == cast(Booking.id, String))
        .where(
            Booking.status == CONFIRMED,
            Booking.payment_state == "failed",
            holds.c.updated_at >= now - WINDOW,
            holds.c.updated_at <= now - GRACE,
            ~exists().where(
                and_(
                    NoticeSent.kind == FIX_CARD_NOTICE,
                    NoticeSent.subject_type == "payment",
                    NoticeSent.subject_id == cast(holds.c.id, String),
                )
            ),
        )
        .limit(BATCH)
    ).all()
    return sorted(set(cancelled) | set(unfixed))[:BATCH]


def send_missing(session: Session, booking_id: int, now: datetime) -> str | None:
    """Send what one booking's client was not told: its cancellation, or its failed hold."""
    if send_cancellation_once(session, booking_id, now=now):
        return f"booking {booking_id}: cancellation notice sent"
    latest = session.scalar(
        _failed_holds()
        .where(Payment.subject_id == str(booking_id))
        .order_by(Payment.id.desc())
        .limit(1)
    )
    if latest is not None and send_fix_card_once(session, booking_id, latest.id):
        return f"booking {booking_id}: fix-card notice sent"
    return None


def due_kinds() -> list[DueKind]:
    """The catch-up's due kind: notices whose status change committed without them."""
    from webapp.booking.models import Booking

    return [DueKind("booking-notices", "booking", find_missing, send_missing, Booking)]
