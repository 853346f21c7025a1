"""Due work of sessions: expire unpaid bookings, place far-away holds, cancel what was not
secured in time, collect after the session, and reconcile payments left unknown.

Each kind's `find` selects candidate bookings (indexed on status and times,
a bounded batch); its `run` is one of the use cases of `closing`, which locks the
booking, re-checks its state and commits: run twice, or on two workers at
once, each thing happens once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.booking import closing
from webapp.booking.lifecycle import SUBJECT, settings_grace
from webapp.booking.models import CONFIRMED, HOLD, PENDING_PAYMENT, REQUIRES_ACTION, Booking
from webapp.due import DueKind

BATCH = 200


def _ids(session: Session, query) -> list[int]:  # noqa: ANN001 (a Select)
    return list(session.scalars(query.limit(BATCH)))


def find_expired(session: Session, now: datetime) -> list[int]:
    """Pending bookings unpaid after their 15 minutes."""
    return _ids(
        session,
        select(Booking.id)
        .where(
            Booking.status.in_((PENDING_PAYMENT, REQUIRES_ACTION)),
            Booking.pending_expires_at <= now,
        )
        .order_by(Booking.id),
    )


def expire(session: Session, booking_id: int, now: datetime) -> str | None:
    """Free the slot of one pending booking whose time is up."""
    if closing.expire(session, booking_id, now):
        return f"booking {booking_id}: expired"
    return None


def find_holds_due(session: Session, now: datetime) -> list[int]:
    """Far-away `hold` sessions whose off-session hold is due."""
    return _ids(
        session,
        select(Booking.id)
        .where(
            Booking.status == CONFIRMED,
            Booking.payment_policy == HOLD,
            Booking.payment_state == "card_saved",
            Booking.hold_due_at <= now,
        )
        .order_by(Booking.hold_due_at),
    )


def find_unsecured(session: Session, now: datetime) -> list[int]:
    """`hold` sessions not secured yet whose deadline may have come."""
    return _ids(
        session,
        select(Booking.id)
        .where(
            Booking.status == CONFIRMED,
            Booking.payment_policy == HOLD,
            Booking.payment_state.in_(("card_saved", "failed", "released")),
            # Deadlines are at most 6 days before the start.
            Booking.start_at <= now + timedelta(days=7),
        )
        .order_by(Booking.start_at),
    )


def find_to_collect(session: Session, now: datetime) -> list[int]:
    """Confirmed sessions ended more than the grace ago."""
    grace = settings_grace(current_app.config)
    return _ids(
        session,
        select(Booking.id)
        .where(Booking.status == CONFIRMED, Booking.end_at <= now - grace)
        .order_by(Booking.end_at),
    )


def find_late_money(session: Session, now: datetime) -> list[int]:
    """Closed bookings that received money after closing (indexed flag)."""
    return _ids(
        session, select(Booking.id).where(Booking.settle_due.is_(True)).order_by(Booking.id)
    )


def due_kinds() -> list[DueKind]:
    """Booking's due kinds in run order (payments in doubt: the ledger's one reconcile sweep)."""
    return [
        DueKind("booking-expire", SUBJECT, find_expired, expire, Booking),
        DueKind("booking-holds", SUBJECT, find_holds_due, closing.place_hold, Booking),
        DueKind(
            "booking-secure-deadline", SUBJECT, find_unsecured, closing.cancel_unsecured, Booking
        ),
        DueKind("booking-collect", SUBJECT, find_to_collect, closing.collect, Booking),
        DueKind("booking-settle", SUBJECT, find_late_money, closing.settle_late, Booking),
    ]
