"""Session reminders: the client is reminded 24 h and 1 h before (`SESSION_REMINDER_HOURS`).

A due kind (`session-reminders`): each reminder is a `NoticeSent` row whose
unique key makes it once only, written in the transaction that enqueues the
e-mail. A booking made inside a reminder's window skips that reminder.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import String, and_, cast, exists, select
from sqlalchemy.orm import Session

from billing.locking import lock
from webapp.due import DueKind
from webapp.notifications import service
from webapp.notifications.models import NoticeSent

if TYPE_CHECKING:
    from webapp.booking.models import Booking

BATCH = 200


def reminder_hours() -> list[int]:
    """The reminder offsets in hours, largest first (e.g. [24, 1]); none when set to ""."""
    raw = current_app.config.get("SESSION_REMINDER_HOURS", "24,1")
    values = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    return sorted({int(v) for v in values if str(v).strip()}, reverse=True)


def _kind(hours: int) -> str:
    return f"reminder_{hours}h"


def _due_offsets(booking: Booking, now: datetime, sent: set[str]) -> list[int]:
    start = booking.start_at
    return [
        hours
        for hours in reminder_hours()
        if _kind(hours) not in sent and start - timedelta(hours=hours) <= now < start
    ]


def find_reminders(session: Session, now: datetime) -> list[int]:
    """Confirmed bookings with a reminder due now and not yet sent."""
    from webapp.booking.models import CONFIRMED, Booking

    ids: set[int] = set()
    for hours in reminder_hours():
        not_sent = ~exists().where(
            and_(
                NoticeSent.kind == _kind(hours),
                NoticeSent.subject_type == "booking",
                NoticeSent.subject_id == cast(Booking.id, String),
            )
        )
        ids.update(
            session.scalars(
                select(Booking.id)
                .where(
                    Booking.status == CONFIRMED,
                    Booking.start_at > now,
                    Booking.start_at <= now + timedelta(hours=hours),
                    not_sent,
                )
                .order_by(Booking.start_at)
                .limit(BATCH)
            )
        )
    return sorted(ids)[:BATCH]


def send_reminder(session: Session, booking_id: int, now: datetime) -> str | None:
    """Send the reminder due for one booking (the nearest one, if several are)."""
    from webapp.booking.emails import manage_url
    from webapp.booking.models import CONFIRMED, Booking

    booking = lock(session, Booking, booking_id)
    if booking is None or booking.status != CONFIRMED:
        return None
    sent = set(
        session.scalars(
            select(NoticeSent.kind).where(
                NoticeSent.subject_type == "booking", NoticeSent.subject_id == str(booking.id)
            )
        )
    )
    offsets = _due_offsets(booking, now, sent)
    if not offsets:
        return None
    # A late run (the worker was down) sends the nearest reminder only; a
    # booking made inside a reminder's window has just had its confirmation.
    for hours in offsets:
        session.add(
            NoticeSent(kind=_kind(hours), subject_type="booking", subject_id=str(booking.id))
        )
    session.flush()
    nearest = min(offsets)
    if booking.created_at > booking.start_at - timedelta(hours=nearest):
        return None
    from webapp.booking.models import Offering

    offering = session.get(Offering, booking.offering_id)
    service.to_client(
        session,
        booking.freelancer_id,
        "session_reminder",
        to=booking.client_email,
        locale=booking.client_locale,
        booking=booking,
        title=booking.title,
        when_at=booking.start_at,
        zone=booking.client_timezone or "UTC",
        location=offering.location if offering else "",
        manage_url=manage_url(booking),
    )
    return f"booking {booking.id}: reminder {nearest} h before sent"


def due_kinds() -> list[DueKind]:
    """The reminders' due kind."""
    from webapp.booking.models import Booking

    return [DueKind("session-reminders", "booking", find_reminders, send_reminder, Booking)]
