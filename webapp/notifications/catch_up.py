"""Notices that follow a status change made in an earlier transaction: sent exactly once.

A cancellation's e-mail states the fee kept, the refund and the release, which
are known only once the money has moved — after the transaction that
cancelled the booking, and after Stripe answered. A failed hold's "fix your
card" e-mail follows the hold's own commit. A crash in between would lose the
e-mail, so:

- each is sent through `send_cancellation_once` / `send_fix_card_once` /
  `send_late_money_once` (money that arrived after the booking closed, given
  back by `booking-settle`), under
  the booking's lock, with a `NoticeSent` row (unique per notice) written in the
  transaction that enqueues the e-mail;
- the due kind `booking-notices` finds cancelled bookings and failed holds of
  the last days without their row (and late-money settlings, recorded as an
  event in the transaction that decided them; a minute after the change, so the request
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
# Late money given back (`closing.settle_late`): one notice per settling, keyed by its event.
LATE_MONEY_NOTICE, LATE_MONEY_EVENT = "late_money_returned", "late_money_settling"
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


def send_late_money_once(session: Session, event_id: int, *, now: datetime | None = None) -> bool:
    """Tell the client what went back of the money that arrived late, unless told (flushes).

    `event_id` is the `late_money_settling` event `settle_late` recorded with
    the totals before it gave anything back. Locks the booking. With `now`
    (the sweep), waits while a refund is still in doubt. Nothing is sent when
    nothing went back after all (the settling kept it all as the fee).
    """
    from webapp.booking import emails
    from webapp.booking.ledger import totals
    from webapp.booking.lifecycle import lock_booking

    event = session.get(Event, event_id)
    if event is None or event.action != LATE_MONEY_EVENT:
        return False
    booking = lock_booking(session, int(event.subject_id))
    if _sent(session, LATE_MONEY_NOTICE, "event", event_id):
        return False
    if (
        now is not None
        and now < event.occurred_at + SETTLE_WAIT
        and _money_moving(session, booking.id)
    ):
        return False
    before = event.data or {}
    t = totals(session, booking)
    went_back = t.refunded_minor > int(before.get("refunded_minor", 0)) or (
        t.released_minor > int(before.get("released_minor", 0))
    )
    if went_back:
        emails.send_late_money_returned(session, booking, kept_minor=t.captured_minor)
    _mark(session, LATE_MONEY_NOTICE, "event", event_id)
    return went_back


def _untold_late_money(now: datetime):  # noqa: ANN202 (a select)
    """Late-money settlings of the last days (a minute old or more) without their notice."""
    return select(Event.id, Event.subject_id).where(
        Event.action == LATE_MONEY_EVENT,
        Event.occurred_at >= now - WINDOW,
        Event.occurred_at <= now - GRACE,
        ~exists().where(
            and_(
                NoticeSent.kind == LATE_MONEY_NOTICE,
                NoticeSent.subject_type == "event",
                NoticeSent.subject_id == cast(Event.id, String),
            )
        ),
    )


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
    late = {
        int(subject_id) for _, subject_id in session.execute(_untold_late_money(now).limit(BATCH))
    }
    return sorted(set(cancelled) | set(unfixed) | late)[:BATCH]


def send_missing(session: Session, booking_id: int, now: datetime) -> str | None:
    """Send what one booking's client was not told: its cancellation, its failed hold,
    or the late money given back."""
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
    untold = session.scalars(
        _untold_late_money(now)
        .with_only_columns(Event.id)
        .where(Event.subject_type == "booking", Event.subject_id == str(booking_id))
    ).all()
    if any([send_late_money_once(session, event_id, now=now) for event_id in untold]):
        return f"booking {booking_id}: late-money notice sent"
    return None


def due_kinds() -> list[DueKind]:
    """The catch-up's due kind: notices whose status change committed without them."""
    from webapp.booking.models import Booking

    return [DueKind("booking-notices", "booking", find_missing, send_missing, Booking)]
