"""Write-back: each confirmed booking as an event in the freelancer's chosen calendar.

A booking's change (confirmed, moved, cancelled, expired) leaves a
`CalendarWrite` row in the same transaction (`booking_changed`, a listener
on the booking timeline). The due kind `calendar-write` then makes the
calendar match the booking *as it is now*: present with its current time
while confirmed, absent once cancelled or expired. The event's address
derives from its UID (`booking_uid`, shared with the e-mailed invite), so a
retry replaces the same resource and a delete of a missing one is fine:
running an item twice changes nothing more.

No lock is held during the server call: the booking is read, the
transaction ended, the server written, and the row marked done only if the
booking did not change meanwhile (otherwise it runs again).
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.db import utcnow
from billing.locking import lock
from webapp.accounts.models import Freelancer
from webapp.booking.ics import PRODID, booking_uid
from webapp.booking.models import CANCELLED, CONFIRMED, EXPIRED, Booking, Offering
from webapp.calendars import remote
from webapp.calendars.models import (
    CalendarConnection,
    CalendarWrite,
    ConnectedCalendar,
    WrittenEvent,
)
from webapp.calendars.service import receiving_calendar, source_of
from webapp.calendars.sync import backoff
from webapp.due import DueKind

# The booking timeline actions that move or remove the calendar event.
ACTIONS = frozenset(
    {"booking_confirmed", "booking_rescheduled", "booking_cancelled", "booking_expired"}
)
BATCH = 200


def booking_changed(session: Session, booking: Booking, action: str) -> None:
    """The booking listener: queue a write when its event must change (same transaction)."""
    if action not in ACTIONS:
        return
    pending = session.scalar(
        select(CalendarWrite).where(
            CalendarWrite.booking_id == booking.id, CalendarWrite.done_at.is_(None)
        )
    )
    if pending is not None:
        pending.due_at = utcnow()
        return
    written = session.scalar(select(WrittenEvent.id).where(WrittenEvent.booking_id == booking.id))
    if written is None and receiving_calendar(session, booking.freelancer_id) is None:
        return
    session.add(CalendarWrite(booking_id=booking.id, freelancer_id=booking.freelancer_id))
    session.flush()


def find_due_writes(session: Session, now: datetime) -> list[int]:
    """Writes not done whose time has come (after a failure, a backoff)."""
    return list(
        session.scalars(
            select(CalendarWrite.id)
            .where(CalendarWrite.done_at.is_(None), CalendarWrite.due_at <= now)
            .order_by(CalendarWrite.due_at)
            .limit(BATCH)
        )
    )


def _snapshot(booking: Booking) -> tuple:
    return (booking.status, booking.start_at, booking.end_at, booking.reschedule_count)


def write_booking(session: Session, write_id: int, now: datetime) -> str | None:
    """Make the booking's event match the booking (one due item)."""
    write = session.get(CalendarWrite, write_id)
    if write is None or write.done_at is not None or write.due_at > now:
        return None
    booking = session.get(Booking, write.booking_id)
    written = session.scalar(select(WrittenEvent).where(WrittenEvent.booking_id == booking.id))
    snapshot = _snapshot(booking)
    if booking.status == CONFIRMED:
        target = (
            session.get(ConnectedCalendar, written.calendar_id)
            if written
            else receiving_calendar(session, booking.freelancer_id)
        )
        if target is None:
            return _done(session, write_id, snapshot, None, None)
        source = source_of(session.get(CalendarConnection, target.connection_id))
        calendar_id, calendar_url, data = target.id, target.url, event_data(session, booking)
        session.commit()
        try:
            href = remote.put_event(source, calendar_url, booking_uid(booking.id), data)
        except remote.CalendarError as exc:
            return _failed(session, write_id, str(exc), now)
        return _done(session, write_id, snapshot, calendar_id, href, line="written")
    if booking.status in (CANCELLED, EXPIRED) and written is not None:
        target = session.get(ConnectedCalendar, written.calendar_id)
        source = source_of(session.get(CalendarConnection, target.connection_id))
        href = written.href
        session.commit()
        try:
            remote.delete_event(source, href)
        except remote.CalendarError as exc:
            return _failed(session, write_id, str(exc), now)
        return _done(session, write_id, snapshot, None, None, line="removed")
    # Pending, or closed without an event: nothing to write.
    return _done(session, write_id, snapshot, None, None)


def _done(
    session: Session,
    write_id: int,
    snapshot: tuple,
    calendar_id: int | None,
    href: str | None,
    *,
    line: str | None = None,
) -> str | None:
    write = lock(session, CalendarWrite, write_id)
    if write is None or write.done_at is not None:
        return None
    booking = session.get(Booking, write.booking_id)
    session.refresh(booking)
    if _snapshot(booking) != snapshot:
        return None  # changed meanwhile: the item stays due and runs again
    written = session.scalar(select(WrittenEvent).where(WrittenEvent.booking_id == booking.id))
    if href is not None:
        if written is None:
            session.add(WrittenEvent(booking_id=booking.id, calendar_id=calendar_id, href=href))
        else:
            written.calendar_id, written.href, written.written_at = calendar_id, href, utcnow()
    elif line == "removed" and written is not None:
        session.delete(written)
    write.done_at = utcnow()
    write.attempts += 1
    write.last_error = None
    session.flush()
    return f"booking {booking.id}: calendar event {line}" if line else None


def _failed(session: Session, write_id: int, error: str, now: datetime) -> str:
    session.rollback()
    write = lock(session, CalendarWrite, write_id)
    write.attempts += 1
    write.last_error = error[:500]
    write.due_at = now + backoff(write.attempts)
    session.flush()
    return (
        f"booking {write.booking_id}: calendar write failed ({error[:120]}); "
        f"next try {write.due_at.isoformat()}"
    )


def event_data(session: Session, booking: Booking) -> bytes:
    """The booking as a calendar object (no METHOD: it is stored, not sent).

    The client is the attendee, the freelancer the organizer; the offering's
    location when it has one; SEQUENCE follows the reschedules like the invite.
    """
    freelancer = session.get(Freelancer, booking.freelancer_id)
    offering = session.get(Offering, booking.offering_id)
    from icalendar import Calendar, Event, vCalAddress, vText

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", booking_uid(booking.id))
    event.add("dtstamp", utcnow())
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    event.add("sequence", booking.reschedule_count)
    event.add("summary", f"{booking.title} — {booking.client_name}")
    base = current_app.config["BASE_URL"].rstrip("/")
    event.add("description", f"{base}/bookings/{booking.id}")
    event.add("status", "CONFIRMED")
    if offering is not None and offering.location:
        event.add("location", offering.location)
    organizer = vCalAddress(f"mailto:{freelancer.email}")
    organizer.params["cn"] = vText(freelancer.display_name)
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{booking.client_email}")
    attendee.params["cn"] = vText(booking.client_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()


def due_kinds() -> list[DueKind]:
    """The write-back as due work."""
    return [
        DueKind("calendar-write", "calendar_write", find_due_writes, write_booking, CalendarWrite)
    ]
