"""The background sync: each connection's busy times, read ahead of any slot request.

Due kind `calendar-sync`, one item per connection whose `next_sync_at` has
come (the worker's minute tick enqueues one Huey task per item; `billing
run-due` runs them inline). An item reads its server with no transaction
open, then, under the connection's row lock and the freelancer's claim lock
(so a booking claim sees either the old busy times or the new ones, never a
half-written set), replaces the busy times of the calendars that changed.

A failed read keeps the busy times of the last good one, marks the
connection `failing` with the error, retries with a doubling delay (1 minute
to 1 hour) and tells the freelancer once, by e-mail, until a read succeeds.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.locking import lock
from webapp.accounts.models import Freelancer
from webapp.booking.claim import serialise_writers
from webapp.booking.models import Offering
from webapp.booking.service import get_availability
from webapp.calendars import busy, remote
from webapp.calendars.models import (
    CALDAV,
    FAILING,
    OK,
    CalendarConnection,
    ConnectedCalendar,
)
from webapp.calendars.service import calendars_of, source_of
from webapp.calendars.store import replace_busy
from webapp.due import DueKind
from webapp.validation import N_

log = logging.getLogger(__name__)

# Busy times must block slots within a minute of a change; a read costs one
# PROPFIND (ctag) per unchanged calendar, or one conditional GET of a feed.
SYNC_EVERY = timedelta(seconds=50)
# An unchanged source is read again in full this often anyway: the booking
# horizon moves on every day, bringing new occurrences of recurring events.
FULL_READ_EVERY = timedelta(hours=6)
MAX_BACKOFF = timedelta(hours=1)
DEFAULT_HORIZON_DAYS = 60
BATCH = 200


def find_due_connections(session: Session, now: datetime) -> list[int]:
    """Connections whose next read has come, soonest first."""
    return list(
        session.scalars(
            select(CalendarConnection.id)
            .where(CalendarConnection.next_sync_at <= now)
            .order_by(CalendarConnection.next_sync_at)
            .limit(BATCH)
        )
    )


def backoff(failures: int) -> timedelta:
    """1, 2, 4 … minutes after the 1st, 2nd, 3rd … failure in a row, at most an hour."""
    return min(timedelta(minutes=2 ** max(failures - 1, 0)), MAX_BACKOFF)


def sync_window(session: Session, freelancer_id: int, now: datetime) -> tuple[datetime, datetime]:
    """From a day ago to the end of the freelancer's longest booking horizon."""
    days = session.scalar(
        select(func.max(Offering.horizon_days)).where(
            Offering.freelancer_id == freelancer_id, Offering.archived_at.is_(None)
        )
    )
    return now - timedelta(days=1), now + timedelta(days=(days or DEFAULT_HORIZON_DAYS) + 1)


def sync_connection(session: Session, connection_id: int, now: datetime) -> str | None:
    """Read one connection's blocking calendars and store their busy times (one due item)."""
    connection = session.get(CalendarConnection, connection_id)
    if connection is None or connection.next_sync_at > now:
        return None
    freelancer = session.get(Freelancer, connection.freelancer_id)
    zone = ZoneInfo(get_availability(session, freelancer).timezone)
    window = sync_window(session, connection.freelancer_id, now)
    source = source_of(connection)
    targets = [
        (calendar.id, calendar.url, None if _stale(calendar, now) else calendar.sync_tag)
        for calendar in calendars_of(session, connection.id)
        if calendar.blocks
    ]
    kind = connection.kind
    # No transaction stays open while the servers are asked.
    session.commit()
    try:
        reads = {cid: _read(kind, source, url, window, tag) for cid, url, tag in targets}
        spans = {
            cid: _spans(read.documents, window, zone)
            for cid, read in reads.items()
            if read.documents is not None
        }
    except remote.CalendarError as exc:
        return _failed(session, connection_id, str(exc), now)
    return _stored(session, connection_id, reads, spans, now)


def _stale(calendar: ConnectedCalendar, now: datetime) -> bool:
    return calendar.read_at is None or calendar.read_at < now - FULL_READ_EVERY


def _read(
    kind: str,
    source: remote.Source,
    url: str,
    window: tuple[datetime, datetime],
    tag: str | None,
) -> remote.Read:
    if kind == CALDAV:
        return remote.read_caldav(source, url, window, tag)
    return remote.read_feed(source, tag)


def _spans(
    documents: list[bytes], window: tuple[datetime, datetime], zone: ZoneInfo
) -> list[busy.Span]:
    found: list[busy.Span] = []
    for document in documents:
        try:
            found += busy.busy_spans(busy.parse(document), window, zone)
        except busy.NotACalendar as exc:
            log.info("calendar unreadable: %s", exc)
            raise remote.NotACalendarServer(
                N_("This address does not serve an iCalendar feed.")
            ) from None
        except Exception as exc:
            # recurring_ical_events refuses some broken rules; the source is
            # unreadable until it is fixed, like a server that cannot be reached.
            log.info("calendar event unreadable: %s", exc)
            raise remote.NotACalendarServer(
                N_("An event of this calendar cannot be read.")
            ) from None
    return found


def _stored(
    session: Session,
    connection_id: int,
    reads: dict[int, remote.Read],
    spans: dict[int, list[busy.Span]],
    now: datetime,
) -> str | None:
    connection = lock(session, CalendarConnection, connection_id)
    if connection is None:
        return None  # removed while we were reading
    serialise_writers(session, connection.freelancer_id)
    stored = 0
    for calendar in calendars_of(session, connection.id):
        if calendar.id in spans:
            stored += replace_busy(session, calendar, spans[calendar.id])
            calendar.read_at = now
        if calendar.id in reads:
            calendar.sync_tag = reads[calendar.id].tag
    was_failing = connection.status == FAILING
    connection.status = OK
    connection.last_error = None
    connection.failures = 0
    connection.failure_notified_at = None
    connection.last_synced_at = now
    connection.next_sync_at = now + SYNC_EVERY
    session.flush()
    if not spans and not was_failing:
        return None  # nothing changed: no line every minute per connection
    return (
        f"calendar connection {connection_id}: {stored} busy time(s) "
        f"from {len(spans)} changed calendar(s)"
    )


def _failed(session: Session, connection_id: int, error: str, now: datetime) -> str | None:
    session.rollback()
    connection = lock(session, CalendarConnection, connection_id)
    if connection is None:
        return None
    connection.status = FAILING
    connection.last_error = error[:500]
    connection.failures += 1
    connection.next_sync_at = now + backoff(connection.failures)
    if connection.failure_notified_at is None:
        _tell_freelancer(session, connection)
        connection.failure_notified_at = now
    session.flush()
    return (
        f"calendar connection {connection_id}: failed ({error[:120]}); busy times kept; "
        f"next try {connection.next_sync_at.isoformat()}"
    )


def _tell_freelancer(session: Session, connection: CalendarConnection) -> None:
    from webapp.mail.service import send_email

    freelancer = session.get(Freelancer, connection.freelancer_id)
    send_email(
        session,
        to=freelancer.email,
        subject=_l("Your calendar cannot be read"),
        template="calendar_failing",
        context={"freelancer": freelancer, "connection": connection},
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )


def due_kinds() -> list[DueKind]:
    """The calendar sync as due work (the write-back is `writeback.due_kinds`)."""
    return [
        DueKind(
            "calendar-sync",
            "calendar_connection",
            find_due_connections,
            sync_connection,
            CalendarConnection,
        )
    ]
