"""Busy times as stored rows: what a slot request reads, what a good sync replaces."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache as once

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from webapp.booking.slots import MAX_SPAN
from webapp.calendars.busy import PIECE, Span, merge, pieces
from webapp.calendars.models import BusyTime, ConnectedCalendar


def busy_between(
    session: Session, freelancer_id: int, window_start: datetime, window_end: datetime
) -> list[Span]:
    """The stored busy spans of the freelancer's blocking calendars near the window.

    A bounded range of the (freelancer, start) index: pieces are at most
    `PIECE` long, so none starting earlier than this can reach the window.
    No remote server is called. One statement built once, run on the
    session's connection (its transaction), without the ORM's per-query work:
    a week of five busy calendars is a few hundred values (issue 14).
    """
    rows = session.connection().execute(
        _busy_statement(),
        {
            "freelancer_id": freelancer_id,
            "since": window_start - MAX_SPAN - PIECE,
            "until": window_end + MAX_SPAN,
        },
    )
    return [(start, end) for start, end in rows]


@once
def _busy_statement() -> Select[tuple[datetime, datetime]]:
    blocking = select(ConnectedCalendar.id).where(
        ConnectedCalendar.freelancer_id == bindparam("freelancer_id"),
        ConnectedCalendar.blocks.is_(True),
    )
    return select(BusyTime.start_at, BusyTime.end_at).where(
        BusyTime.freelancer_id == bindparam("freelancer_id"),
        BusyTime.start_at >= bindparam("since", type_=BusyTime.start_at.type),
        BusyTime.start_at < bindparam("until", type_=BusyTime.start_at.type),
        BusyTime.calendar_id.in_(blocking),
    )


def replace_busy(session: Session, calendar: ConnectedCalendar, spans: Sequence[Span]) -> int:
    """Make `spans` the calendar's busy times (merged, cut into pieces); returns the count."""
    session.execute(delete(BusyTime).where(BusyTime.calendar_id == calendar.id))
    rows = [
        {
            "calendar_id": calendar.id,
            "freelancer_id": calendar.freelancer_id,
            "start_at": start,
            "end_at": end,
        }
        for start, end in pieces(merge(spans))
    ]
    for chunk in range(0, len(rows), 5_000):
        session.execute(insert(BusyTime), rows[chunk : chunk + 5_000])
    return len(rows)


def busy_count(session: Session, calendar_id: int) -> int:
    """How many busy pieces the calendar holds (the page shows it)."""
    from sqlalchemy import func

    return (
        session.scalar(
            select(func.count()).select_from(BusyTime).where(BusyTime.calendar_id == calendar_id)
        )
        or 0
    )
