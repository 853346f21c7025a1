"""Busy intervals: merging, cutting into pieces, reading iCalendar, and slots around them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from webapp.booking.slots import Rules, SlotSpec, free_slots
from webapp.calendars.busy import NotACalendar, busy_spans, merge, parse, pieces

PARIS = ZoneInfo("Europe/Paris")


def t(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2027, 6, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spans", "merged"),
    [
        ([], []),
        ([(t(9), t(10)), (t(10), t(11))], [(t(9), t(11))]),  # touching spans join
        ([(t(9), t(10)), (t(10, 1), t(11))], [(t(9), t(10)), (t(10, 1), t(11))]),
        ([(t(12), t(13)), (t(9), t(12, 30))], [(t(9), t(13))]),
        ([(t(9), t(17)), (t(10), t(11))], [(t(9), t(17))]),  # inside another
    ],
)
def test_merge(spans, merged):
    assert merge(spans) == merged


def test_pieces_are_at_most_a_day_and_cover_the_span_exactly():
    start = t(8)
    cut = pieces([(start, start + timedelta(days=2, hours=3))])
    assert cut == [
        (start, start + timedelta(days=1)),
        (start + timedelta(days=1), start + timedelta(days=2)),
        (start + timedelta(days=2), start + timedelta(days=2, hours=3)),
    ]
    assert pieces([(t(9), t(10))]) == [(t(9), t(10))]


def calendar(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{body}END:VCALENDAR\r\n".encode()
    )


WINDOW = (datetime(2027, 6, 1, tzinfo=UTC), datetime(2027, 6, 30, tzinfo=UTC))


def test_all_day_and_floating_events_are_read_in_the_freelancers_zone():
    data = calendar(
        "UID:a\r\nDTSTART;VALUE=DATE:20270602\r\nDTEND;VALUE=DATE:20270604\r\nSUMMARY:Off",
        "UID:b\r\nDTSTART:20270610T090000\r\nDTEND:20270610T100000\r\nSUMMARY:Floating",
    )
    spans = busy_spans(parse(data), WINDOW, PARIS)
    assert spans == [
        # Two whole local days: midnight to midnight in Paris (UTC+2 in June).
        (datetime(2027, 6, 1, 22, tzinfo=UTC), datetime(2027, 6, 3, 22, tzinfo=UTC)),
        (datetime(2027, 6, 10, 7, tzinfo=UTC), datetime(2027, 6, 10, 8, tzinfo=UTC)),
    ]


def test_free_cancelled_and_own_booking_events_block_nothing():
    data = calendar(
        "UID:a\r\nDTSTART:20270602T090000Z\r\nDTEND:20270602T100000Z\r\nTRANSP:TRANSPARENT",
        "UID:b\r\nDTSTART:20270603T090000Z\r\nDTEND:20270603T100000Z\r\nSTATUS:CANCELLED",
        "UID:booking-42@acompte\r\nDTSTART:20270604T090000Z\r\nDTEND:20270604T100000Z",
        "UID:c\r\nDTSTART:20270605T090000Z\r\nDTEND:20270605T100000Z",
    )
    assert busy_spans(parse(data), WINDOW, PARIS) == [
        (datetime(2027, 6, 5, 9, tzinfo=UTC), datetime(2027, 6, 5, 10, tzinfo=UTC))
    ]


def test_events_outside_the_window_are_left_out():
    data = calendar("UID:a\r\nDTSTART:20270801T090000Z\r\nDTEND:20270801T100000Z")
    assert busy_spans(parse(data), WINDOW, PARIS) == []


@pytest.mark.parametrize("data", [b"", b"<html></html>", b"BEGIN:VCARD\r\nEND:VCARD\r\n"])
def test_not_a_calendar(data):
    with pytest.raises(NotACalendar):
        parse(data)


# --- slots subtract busy times, with the offering's buffers ---------------------

RULES = Rules("UTC", [{"weekday": d, "start": "09:00", "end": "13:00"} for d in range(7)])
SPEC = SlotSpec(
    duration=timedelta(hours=1),
    buffer_before=timedelta(minutes=10),
    buffer_after=timedelta(minutes=20),
)
DAY = date(2027, 6, 1)


def starts(busy) -> list[int]:
    found = free_slots(
        RULES,
        SPEC,
        busy=busy,
        window_start=t(0),
        window_end=t(23),
        now=t(0) - timedelta(days=1),
    )
    return [slot.start.hour for slot in found]


def test_no_busy_time_leaves_every_slot():
    assert starts([]) == [9, 10, 11, 12]


@pytest.mark.parametrize(
    ("busy", "offered"),
    [
        # Busy until 10:50: the 11:00 session's 10-minute buffer starts there.
        ([(t(10, 0), t(10, 50))], [11, 12]),
        ([(t(10, 0), t(10, 51))], [12]),
        # A busy time ending at 09:50: the 10:00 session's buffer begins at 09:50.
        ([(t(9, 30), t(9, 50))], [10, 11, 12]),
        ([(t(9, 30), t(9, 51))], [11, 12]),
        # Starting at 10:20, just after the 09:00 session's 20-minute buffer.
        ([(t(10, 20), t(10, 30))], [9, 11, 12]),
        ([(t(10, 19), t(10, 30))], [11, 12]),
    ],
)
def test_busy_times_remove_the_slots_their_buffers_touch(busy, offered):
    assert starts(busy) == offered
