"""Busy intervals: from iCalendar data to the spans that block slots. No I/O.

Recurrence rules, moved occurrences (RECURRENCE-ID), exceptions (EXDATE),
all-day events and time zones are expanded by `recurring_ical_events`;
this module only decides what counts as busy and how it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from icalendar import Calendar

# icalendar and its helpers are imported on first parse, not at import: every
# command loads this module (the calendar-sync due kind), few of them read a calendar.

Span = tuple[datetime, datetime]

# Stored pieces are at most this long, so a slot request reads a bounded
# window of start times (see `webapp.calendars.store.busy_between`).
PIECE = timedelta(days=1)
# The events Acompte writes for bookings carry `webapp.booking.ics.booking_uid`:
# they mirror bookings that already block their slot, and must not block it
# a second time (a booking could never be moved by a few minutes otherwise).
_OWN_UID = re.compile(r"^booking-\d+@acompte$")


class NotACalendar(ValueError):
    """The data is not iCalendar."""


def parse(data: bytes | str) -> Calendar:
    """The calendar in `data` (X-WR-TIMEZONE feeds made standard); `NotACalendar` if none."""
    import x_wr_timezone
    from icalendar import Calendar

    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, KeyError, IndexError) as exc:
        raise NotACalendar(f"not an iCalendar document: {exc}") from None
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise NotACalendar("not an iCalendar document")
    return x_wr_timezone.to_standard(calendar)


def busy_spans(calendar: Calendar, window: Span, zone: ZoneInfo) -> list[Span]:
    """The busy spans of `calendar` overlapping `window`, in UTC, merged.

    Free (TRANSP:TRANSPARENT) and cancelled events do not count, nor the
    events written for bookings. Dates (all-day events) and floating times
    are read in `zone`, the freelancer's.
    """
    import recurring_ical_events

    spans = []
    for event in recurring_ical_events.of(calendar).between(*window):
        if _OWN_UID.match(str(event.get("UID", ""))):
            continue
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        start = _aware(event["DTSTART"].dt, zone)
        end = _aware(event["DTEND"].dt, zone) if "DTEND" in event else start
        if end > start and end > window[0] and start < window[1]:
            spans.append((start, end))
    return merge(spans)


def _aware(value: date | datetime, zone: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=zone)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def merge(spans: Iterable[Span]) -> list[Span]:
    """The union of half-open spans, sorted; touching spans join."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def pieces(spans: Iterable[Span], length: timedelta = PIECE) -> list[Span]:
    """Each span cut into consecutive pieces no longer than `length`."""
    out: list[Span] = []
    for start, end in spans:
        while end - start > length:
            out.append((start, start + length))
            start += length
        out.append((start, end))
    return out
