"""The slots API's per-request part (issue 14): one read, plain tuples, slots formatted once.

What a window's slots depend on splits in two. The candidates — every slot
the hours allow, with its start and end already written in the client's zone —
depend only on the freelancer's hours, the offering and the window, so they are
kept per public version (`webapp.public.cache`, invalidated by any change of
those rows). What is busy — the active bookings and the synced calendar busy
times of the window — is read on every request, in one statement (both tables'
`(freelancer_id, start_at)` indexes, a UNION ALL of plain columns, no ORM
objects), and never cached: a slot taken a moment ago is not offered.
The answer is the one `webapp.booking.slots.free_slots` gives.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache as once
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, String, bindparam, select, type_coerce, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from webapp.booking.slots import (
    MAX_SPAN,
    Rules,
    SlotSpec,
    bounds,
    candidate_slots,
    free_indexes,
    window_of_days,
)
from webapp.public import cache


@once
def _busy_statement(sqlite: bool) -> Select[Any]:
    from webapp.booking.models import ACTIVE, Booking
    from webapp.calendars.models import BusyTime, ConnectedCalendar

    # The stored values as they come, without a TypeDecorator call per value:
    # SQLite's UTC text (parsed below in one C call each), PostgreSQL's aware times.
    def naive(column: Any) -> Any:
        return type_coerce(column, String() if sqlite else DateTime(timezone=True))

    bookings = select(naive(Booking.block_start), naive(Booking.block_end)).where(
        Booking.freelancer_id == bindparam("freelancer_id"),
        Booking.start_at >= bindparam("bookings_from", type_=Booking.start_at.type),
        Booking.start_at < bindparam("until", type_=Booking.start_at.type),
        Booking.status.in_(ACTIVE),
    )
    blocking = select(ConnectedCalendar.id).where(
        ConnectedCalendar.freelancer_id == bindparam("freelancer_id"),
        ConnectedCalendar.blocks.is_(True),
    )
    calendars = select(naive(BusyTime.start_at), naive(BusyTime.end_at)).where(
        BusyTime.freelancer_id == bindparam("freelancer_id"),
        BusyTime.start_at >= bindparam("calendars_from", type_=BusyTime.start_at.type),
        BusyTime.start_at < bindparam("until", type_=BusyTime.start_at.type),
        BusyTime.calendar_id.in_(blocking),
    )
    return union_all(bookings, calendars)  # type: ignore[return-value]


def busy_in_window(
    session: Session, freelancer_id: int, window_start: datetime, window_end: datetime
) -> list[tuple[datetime, datetime]]:
    """The active bookings' buffered spans and the blocking calendars' busy times near
    the window: the same rows as `booking.service.busy_spans` + `calendars.store.busy_between`."""
    from webapp.calendars.busy import PIECE

    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    rows = connection.execute(
        _busy_statement(sqlite),
        {
            "freelancer_id": freelancer_id,
            "bookings_from": window_start - MAX_SPAN,
            "calendars_from": window_start - MAX_SPAN - PIECE,
            "until": window_end + MAX_SPAN,
        },
    ).all()
    if sqlite:
        parse = datetime.fromisoformat
        return [(parse(start + "+00:00"), parse(end + "+00:00")) for start, end in rows]
    return [(start, end) for start, end in rows]


def public_slots(
    session: Session,
    plan_key: tuple[Any, ...],
    plan: dict[str, Any],
    first: date,
    last: date,
    tz: str,
    now: datetime,
) -> list[dict[str, str]]:
    """`{start, end}` of the free slots from `first` to `last` (the client's `tz`).

    `plan_key` is the plan's cache key (freelancer, public version, offering);
    `plan` its rules and slot spec."""
    rules: Rules = plan["rules"]
    spec: SlotSpec = plan["spec"]
    start, end = window_of_days(first, last, tz)
    earliest, latest = bounds(spec, start, end, now)
    if earliest >= latest:
        return []
    freelancer_id = plan_key[0]

    def build() -> dict[str, Any]:
        zone = ZoneInfo(tz)
        slots = candidate_slots(rules, spec, start, end)
        texts = [
            {
                "start": s.start.astimezone(zone).isoformat(),
                "end": s.end.astimezone(zone).isoformat(),
            }
            for s in slots
        ]
        return {"slots": slots, "texts": texts}

    candidates = cache.cached((*plan_key, "candidates", first, last, tz), build)
    busy = busy_in_window(session, freelancer_id, start, end)
    texts = candidates["texts"]
    return [texts[i] for i in free_indexes(candidates["slots"], busy, earliest, latest)]
