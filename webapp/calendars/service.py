"""Connecting, listing, choosing and removing the freelancer's calendars.

Plain operations on a session: they flush, the views commit. Connecting
talks to the server once (CalDAV discovery, or one read of the feed) so that
a wrong address or password is answered at once; the busy times themselves
come from the background sync (`webapp.calendars.sync`), due at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from webapp.calendars import busy, remote
from webapp.calendars.models import (
    CALDAV,
    ICS,
    BusyTime,
    CalendarConnection,
    ConnectedCalendar,
    WrittenEvent,
)
from webapp.stripe_connect import secret_box
from webapp.validation import N_

SUBJECT = "calendar_connection"
MAX_CONNECTIONS = 10


class NotFound(Exception):
    """No such connection or calendar for this freelancer."""


class Refused(Exception):
    """The connection cannot be made; `fields` says why, per input."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for ms in fields.values() for m in ms))
        self.fields = fields


def source_of(connection: CalendarConnection) -> remote.Source:
    """How to reach the connection's server, with its password decrypted."""
    password = secret_box().decrypt(connection.password_enc) if connection.password_enc else None
    return remote.Source(
        connection.url,
        connection.username,
        password,
        allow_private_hosts=bool(current_app.config.get("CALENDAR_ALLOW_PRIVATE_HOSTS")),
    )


def connect(session: Session, freelancer_id: int, data: dict[str, Any]) -> CalendarConnection:
    """A new connection from validated data (`ConnectionSchema`), checked against its server.

    CalDAV: the account's calendars are discovered; all block slots, and the
    first receives bookings unless another calendar already does. ICS: the
    feed is read once and must parse. `Refused` (nothing written) otherwise.
    """
    one_too_many = session.scalar(
        select(CalendarConnection.id)
        .where(CalendarConnection.freelancer_id == freelancer_id)
        .offset(MAX_CONNECTIONS - 1)
        .limit(1)
    )
    if one_too_many is not None:
        raise Refused({"url": [N_("At most 10 calendar connections.")]})
    try:
        url = remote.normalise_url(data["url"])
        source = remote.Source(
            url,
            data.get("username") or None,
            data.get("password") or None,
            allow_private_hosts=bool(current_app.config.get("CALENDAR_ALLOW_PRIVATE_HOSTS")),
        )
        found = _probe(data["kind"], source)
    except remote.CalendarError as exc:
        raise Refused({exc.field: [str(exc)]}) from None
    connection = CalendarConnection(
        freelancer_id=freelancer_id,
        kind=data["kind"],
        url=url,
        username=source.username,
        password_enc=secret_box().encrypt(source.password) if source.password else None,
        next_sync_at=utcnow(),
    )
    session.add(connection)
    session.flush()
    receiving = _receiving(session, freelancer_id)
    for n, item in enumerate(found):
        session.add(
            ConnectedCalendar(
                connection_id=connection.id,
                freelancer_id=freelancer_id,
                url=item.url,
                name=item.name[:200],
                blocks=True,
                receives_bookings=data["kind"] == CALDAV and n == 0 and receiving is None,
            )
        )
    session.flush()
    _record(session, connection, "calendar_connected", kind=connection.kind, calendars=len(found))
    return connection


def _probe(kind: str, source: remote.Source) -> list[remote.Discovered]:
    if kind == CALDAV:
        return remote.discover(source)
    read = remote.read_feed(source, None)
    try:
        calendar = busy.parse(read.documents[0] if read.documents else b"")
    except busy.NotACalendar:
        raise remote.NotACalendarServer(
            N_("This address does not serve an iCalendar feed.")
        ) from None
    name = str(calendar.get("X-WR-CALNAME", "")) or source.url.rsplit("/", 1)[-1] or source.url
    return [remote.Discovered(source.url, name)]


def _receiving(session: Session, freelancer_id: int) -> ConnectedCalendar | None:
    return session.scalar(
        select(ConnectedCalendar).where(
            ConnectedCalendar.freelancer_id == freelancer_id,
            ConnectedCalendar.receives_bookings.is_(True),
        )
    )


def receiving_calendar(session: Session, freelancer_id: int) -> ConnectedCalendar | None:
    """The calendar the freelancer's bookings are written to, if any."""
    return _receiving(session, freelancer_id)


def connections(session: Session, freelancer_id: int) -> list[CalendarConnection]:
    """The freelancer's connections, oldest first."""
    return list(
        session.scalars(
            select(CalendarConnection)
            .where(CalendarConnection.freelancer_id == freelancer_id)
            .order_by(CalendarConnection.id)
        )
    )


def get_connection(session: Session, freelancer_id: int, connection_id: int) -> CalendarConnection:
    """One connection of this freelancer, or `NotFound` (also for another's)."""
    connection = session.scalar(
        select(CalendarConnection).where(
            CalendarConnection.id == connection_id,
            CalendarConnection.freelancer_id == freelancer_id,
        )
    )
    if connection is None:
        raise NotFound(f"no calendar connection {connection_id}")
    return connection


def calendars_of(session: Session, connection_id: int) -> list[ConnectedCalendar]:
    """The calendars of one connection."""
    return list(
        session.scalars(
            select(ConnectedCalendar)
            .where(ConnectedCalendar.connection_id == connection_id)
            .order_by(ConnectedCalendar.id)
        )
    )


def choose(session: Session, connection: CalendarConnection, choices: list[dict[str, Any]]) -> None:
    """Apply `[{id, blocks?, receives_bookings?}]` to the connection's calendars.

    At most one calendar of the freelancer receives bookings (choosing one
    unsets the others); only CalDAV calendars can. A calendar that starts
    blocking is read at the next sync.
    """
    own = {calendar.id: calendar for calendar in calendars_of(session, connection.id)}
    for choice in choices:
        calendar = own.get(choice["id"])
        if calendar is None:
            raise Refused({"calendars": [N_("Unknown calendar.")]})
        if "blocks" in choice:
            if choice["blocks"] and not calendar.blocks:
                calendar.sync_tag = None
                connection.next_sync_at = utcnow()
            calendar.blocks = choice["blocks"]
        if choice.get("receives_bookings"):
            if connection.kind == ICS:
                raise Refused({"calendars": [N_("A read-only feed cannot receive bookings.")]})
            session.execute(
                update(ConnectedCalendar)
                .where(ConnectedCalendar.freelancer_id == connection.freelancer_id)
                .values(receives_bookings=False)
            )
            session.expire_all()
            calendar = session.get(ConnectedCalendar, calendar.id)
            calendar.receives_bookings = True
        elif choice.get("receives_bookings") is False:
            calendar.receives_bookings = False
    session.flush()
    _record(session, connection, "calendar_choices_changed", choices=choices)


def remove(session: Session, connection: CalendarConnection) -> None:
    """Forget the connection, its calendars and busy times (events already written stay)."""
    ids = [calendar.id for calendar in calendars_of(session, connection.id)]
    if ids:
        session.execute(delete(BusyTime).where(BusyTime.calendar_id.in_(ids)))
        session.execute(delete(WrittenEvent).where(WrittenEvent.calendar_id.in_(ids)))
        session.execute(delete(ConnectedCalendar).where(ConnectedCalendar.id.in_(ids)))
    _record(session, connection, "calendar_disconnected", kind=connection.kind)
    session.delete(connection)
    session.flush()


def describe(session: Session, connection: CalendarConnection) -> dict[str, Any]:
    """The API's view of a connection (never the password)."""
    from webapp.calendars.store import busy_count

    return {
        "id": connection.id,
        "kind": connection.kind,
        "url": connection.url,
        "username": connection.username,
        "status": connection.status,
        "last_error": connection.last_error,
        "last_synced_at": _iso(connection.last_synced_at),
        "next_sync_at": _iso(connection.next_sync_at),
        "calendars": [
            {
                "id": calendar.id,
                "name": calendar.name,
                "url": calendar.url,
                "blocks": calendar.blocks,
                "receives_bookings": calendar.receives_bookings,
                "busy_times": busy_count(session, calendar.id),
            }
            for calendar in calendars_of(session, connection.id)
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _record(session: Session, connection: CalendarConnection, action: str, **data: Any) -> None:
    events.record(
        session,
        subject_type=SUBJECT,
        subject_id=connection.id,
        action=action,
        actor=events.freelancer_actor(connection.freelancer_id),
        freelancer_id=connection.freelancer_id,
        data=data,
    )
