"""Shared pieces of the calendar tests: the test calendars, the clock, helpers.

Their fixtures (Radicale, the feed, the Paris freelancer) live in
`tests/integration/calendars/conftest.py`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import caldav
from sqlalchemy import select

from tests.support.calendar_servers import USERS
from webapp.accounts.models import Freelancer, hash_token
from webapp.booking import service
from webapp.booking.models import PENDING_PAYMENT, Booking, Offering
from webapp.booking.slots import window_of_days
from webapp.calendars.models import CalendarWrite
from webapp.due import run_item
from webapp.extensions import db
from webapp.stripe_connect import secret_box

PARIS = ZoneInfo("Europe/Paris")
# Monday 15 March 2027; clocks go forward on Sunday 28 March.
NOW = datetime(2027, 3, 15, 6, 0, tzinfo=UTC)
FIRST_DAY, LAST_DAY = date(2027, 3, 15), date(2027, 4, 9)

WEEKLY = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//weekly//EN
BEGIN:VEVENT
UID:weekly-review@test
DTSTART;TZID=Europe/Paris:20270316T100000
DTEND;TZID=Europe/Paris:20270316T110000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=Europe/Paris:20270323T100000
SUMMARY:Weekly review
END:VEVENT
BEGIN:VEVENT
UID:weekly-review@test
RECURRENCE-ID;TZID=Europe/Paris:20270330T100000
DTSTART;TZID=Europe/Paris:20270331T140000
DTEND;TZID=Europe/Paris:20270331T150000
SUMMARY:Weekly review (moved)
END:VEVENT
END:VCALENDAR
"""
FREE_TIME = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//free//EN
BEGIN:VEVENT
UID:free-time@test
DTSTART;TZID=Europe/Paris:20270317T090000
DTEND;TZID=Europe/Paris:20270317T180000
TRANSP:TRANSPARENT
SUMMARY:Shown as free: blocks nothing
END:VEVENT
END:VCALENDAR
"""

# 15-minute buffers around 60-minute sessions on the hour: a busy 10:00–11:00
# removes the 09:00, 10:00 and 11:00 sessions of that day (local time).


def own_calendar(server_url: str, user: str, name: str):
    """A fresh calendar of `user` on Radicale, through the caldav library."""
    client = caldav.DAVClient(url=server_url, username=user, password=USERS[user])
    return client.principal().make_calendar(name=name, cal_id=name)


def slot_starts(seller, now=NOW) -> set[str]:
    """The offered session starts, as Paris wall-clock times."""
    freelancer = db.session.get(Freelancer, seller["id"])
    offering = db.session.get(Offering, seller["offering_id"])
    window = window_of_days(FIRST_DAY, LAST_DAY, "Europe/Paris")
    slots = service.slots_for(db.session, freelancer, offering, *window, now=now)
    db.session.rollback()
    return {slot.start.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") for slot in slots}


def connect(client, seller, **body):
    return client.post("/api/v1/calendars", json=body, headers=seller["headers"])


def connect_receiving(client, seller, server_url: str, calendar) -> dict:
    """Connect alice's account and make `calendar` the one that receives bookings."""
    answer = connect(
        client, seller, kind="caldav", url=server_url, username="alice", password=USERS["alice"]
    )
    assert answer.status_code == 201, answer.get_json()
    connection = answer.get_json()
    (chosen,) = [c for c in connection["calendars"] if c["url"] == str(calendar.url)]
    patched = client.patch(
        f"/api/v1/calendars/{connection['id']}",
        json={"calendars": [{"id": chosen["id"], "receives_bookings": True}]},
        headers=seller["headers"],
    )
    assert patched.status_code == 200, patched.get_json()
    receiving = [c["id"] for c in patched.get_json()["calendars"] if c["receives_bookings"]]
    assert receiving == [chosen["id"]]
    return connection


def sync(connection_id: int, now=NOW) -> str | None:
    result = run_item("calendar-sync", connection_id, now)
    assert result.error is None, result.error
    return result.line


def run_writes(now=NOW) -> list[str]:
    ids = db.session.scalars(select(CalendarWrite.id).where(CalendarWrite.done_at.is_(None)))
    lines = [run_item("calendar-write", i, now) for i in list(ids)]
    db.session.rollback()
    assert all(r.error is None for r in lines), [r.error for r in lines]
    return [r.line for r in lines if r.line]


def pending_booking(seller, start: datetime, token: str) -> Booking:
    offering = db.session.get(Offering, seller["offering_id"])
    booking = Booking(
        freelancer_id=seller["id"],
        offering_id=offering.id,
        client_name="Camille Client",
        client_email="camille@example.test",
        start_at=start,
        end_at=start + timedelta(hours=1),
        block_start=start - timedelta(minutes=15),
        block_end=start + timedelta(minutes=75),
        status=PENDING_PAYMENT,
        title=offering.title,
        amount_minor=offering.amount_minor,
        currency=offering.currency,
        payment_policy=offering.payment_policy,
        deposit_bp=0,
        free_cancel_hours=24,
        late_cancel_fee_bp=0,
        no_show_fee_bp=10_000,
        secure_deadline_hours=24,
        manage_token_hash=hash_token(token),
        manage_token_enc=secret_box().encrypt(token),
    )
    db.session.add(booking)
    db.session.flush()
    return booking


def calendar_events(calendar) -> list:
    return [event.icalendar_component for event in calendar.events()]
