"""The freelancer's own calendars against real servers on 127.0.0.1.

Radicale (CalDAV, from PyPI) and an ICS feed served by the test: busy times
remove exactly the right slots (a weekly event, one occurrence moved, one
cancelled, across the end of March 2027's daylight-saving change in Paris);
bookings are written back, moved and removed; a server that goes down keeps
the last busy times and marks the connection.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import caldav
import pytest
from sqlalchemy import func, select

from billing import clock, events
from tests.support.calendar_servers import USERS, ics_feed, radicale
from webapp.accounts.models import Freelancer, hash_token
from webapp.booking import lifecycle, service
from webapp.booking.models import CANCELLED, CONFIRMED, PENDING_PAYMENT, Booking, Offering
from webapp.booking.reschedule import reschedule
from webapp.booking.slots import window_of_days
from webapp.calendars.models import BusyTime, CalendarConnection, CalendarWrite
from webapp.due import run_item
from webapp.extensions import db
from webapp.mail.models import OutboundEmail
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
EXPECTED_MISSING = {
    "2027-03-16 09:00",
    "2027-03-16 10:00",
    "2027-03-16 11:00",
    # 23 March: the cancelled occurrence blocks nothing.
    # 30 March: moved to Wednesday 31 March, 14:00–15:00 (after the DST change).
    "2027-03-31 13:00",
    "2027-03-31 14:00",
    "2027-03-31 15:00",
    # 6 April, after the change: still 10:00 on the wall clock (08:00 UTC).
    "2027-04-06 09:00",
    "2027-04-06 10:00",
    "2027-04-06 11:00",
}


@pytest.fixture(scope="module")
def caldav_server(tmp_path_factory):
    with radicale(tmp_path_factory.mktemp("radicale")) as url:
        yield url


@pytest.fixture
def feed():
    with ics_feed() as served:
        yield served


@pytest.fixture
def app_config(app_config):
    return {**app_config, "CALENDAR_ALLOW_PRIVATE_HOSTS": True}


@pytest.fixture
def seller(client, make_freelancer, db_session):
    """A freelancer in Paris, open 09:00–18:00 on weekdays, selling one-hour sessions."""
    freelancer = make_freelancer()
    weekly = [{"weekday": d, "start": "09:00", "end": "18:00"} for d in range(5)]
    put = client.put(
        "/api/v1/availability",
        json={"timezone": "Europe/Paris", "weekly": weekly, "exceptions": []},
        headers=freelancer["headers"],
    )
    assert put.status_code == 200, put.get_json()
    created = client.post(
        "/api/v1/offerings",
        json={
            "title": "Session",
            "duration_minutes": 60,
            "amount_minor": 10_000,
            "currency": "EUR",
            "payment_policy": "prepay",
            "free_cancel_hours": 24,
            "late_cancel_fee_percent": 0,
            "no_show_fee_percent": 100,
            "buffer_minutes": 15,
            "min_notice_minutes": 0,
        },
        headers=freelancer["headers"],
    )
    assert created.status_code == 201, created.get_json()
    freelancer["offering_id"] = created.get_json()["id"]
    return freelancer


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


# --- busy times remove exactly the right slots ---------------------------------


@pytest.mark.parametrize("kind", ["caldav", "ics"])
def test_weekly_busy_event_removes_exactly_its_slots_across_the_dst_change(
    app_ctx, client, seller, caldav_server, feed, kind
):
    # given the freelancer's free slots with no calendar
    before = slot_starts(seller)
    assert "2027-04-06 10:00" in before and "2027-03-16 10:00" in before
    # and a weekly busy event with one moved and one cancelled occurrence
    if kind == "caldav":
        calendar = own_calendar(caldav_server, "alice", f"work-{seller['id']}")
        calendar.save_event(WEEKLY.decode())
        calendar.save_event(FREE_TIME.decode())
        body = {"kind": "caldav", "url": caldav_server, "username": "alice"}
        body["password"] = USERS["alice"]
    else:
        # A feed is one document: both events in it.
        feed.documents["weekly.ics"] = WEEKLY.replace(
            b"END:VCALENDAR", FREE_TIME.split(b"PRODID:-//test//free//EN\n")[1]
        )
        body = {"kind": "ics", "url": feed.url("weekly.ics")}
    # when the calendar is connected and synced once
    answer = connect(client, seller, **body)
    assert answer.status_code == 201, answer.get_json()
    connection = answer.get_json()
    assert connection["status"] == "pending"
    line = sync(connection["id"])
    # then exactly those slots are gone
    assert "busy time" in line
    assert before - slot_starts(seller) == EXPECTED_MISSING
    assert slot_starts(seller) <= before
    listed = client.get("/api/v1/calendars", headers=seller["headers"]).get_json()
    assert listed["calendars"][0]["status"] == "ok"
    assert listed["calendars"][0]["calendars"][0]["busy_times"] == 3


def test_an_unchanged_source_is_not_read_again(app_ctx, client, seller, feed):
    feed.documents["weekly.ics"] = WEEKLY
    connection = connect(client, seller, kind="ics", url=feed.url("weekly.ics")).get_json()
    sync(connection["id"])
    # when the next minute's sync finds the same ETag
    assert sync(connection["id"], NOW + timedelta(minutes=1)) is None
    # then nothing was rewritten, and the slots stay blocked
    assert feed.requests.count("weekly.ics") == 3  # connect, first sync, the 304
    assert "2027-03-16 10:00" not in slot_starts(seller)
    # and a changed feed is read at the next sync
    feed.documents["weekly.ics"] = WEEKLY.replace(b"COUNT=4", b"COUNT=1")
    assert "busy time" in sync(connection["id"], NOW + timedelta(minutes=2))
    assert "2027-04-06 10:00" in slot_starts(seller)


def test_a_claim_of_a_busy_time_is_refused_in_its_transaction(app_ctx, client, seller, feed):
    feed.documents["weekly.ics"] = WEEKLY
    connection = connect(client, seller, kind="ics", url=feed.url("weekly.ics")).get_json()
    sync(connection["id"])
    busy_start = datetime(2027, 3, 16, 10, 0, tzinfo=PARIS).isoformat()
    with clock.frozen(NOW):
        answer = client.post(
            f"/api/v1/public/freelancers/{seller['slug']}/bookings",
            json={
                "offering_id": seller["offering_id"],
                "start": busy_start,
                "client": {"name": "Client", "email": "client@example.test"},
            },
        )
    assert answer.status_code == 409, answer.get_json()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


# --- a server that goes down ------------------------------------------------


def test_a_feed_that_goes_down_keeps_its_busy_times_and_marks_the_connection(
    app_ctx, client, seller, feed
):
    feed.documents["weekly.ics"] = WEEKLY
    connection = connect(client, seller, kind="ics", url=feed.url("weekly.ics")).get_json()
    sync(connection["id"])
    blocked = slot_starts(seller)
    # when the server goes down
    feed.stop()
    later = NOW + timedelta(minutes=1)
    line = sync(connection["id"], later)
    # then the connection is marked, the busy times kept, the freelancer told once
    assert "failed" in line and "busy times kept" in line
    row = db.session.get(CalendarConnection, connection["id"])
    assert row.status == "failing" and row.last_error == "The server cannot be reached."
    assert row.next_sync_at == later + timedelta(minutes=1)
    assert slot_starts(seller) == blocked
    for minutes in (2, 4):  # backoff: 1, then 2 minutes
        assert sync(connection["id"], NOW + timedelta(minutes=minutes)) is not None
    db.session.refresh(row)
    assert row.failures == 3 and row.next_sync_at == NOW + timedelta(minutes=8)
    mails = db.session.scalars(
        select(OutboundEmail).where(OutboundEmail.to_addr == seller["email"])
    )
    failing = [m for m in mails if m.subject == "Votre agenda est illisible"]
    assert len(failing) == 1
    assert "Le serveur est injoignable." in failing[0].body_text
    # when it comes back
    feed.start()
    assert sync(connection["id"], NOW + timedelta(minutes=8)) is not None
    db.session.refresh(row)
    assert row.status == "ok" and row.failures == 0 and row.failure_notified_at is None
    assert slot_starts(seller) == blocked


# --- write-back ---------------------------------------------------------------


def _pending_booking(seller, start: datetime, token: str) -> Booking:
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


def _events(calendar) -> list:
    return [event.icalendar_component for event in calendar.events()]


def test_bookings_are_written_moved_and_removed_in_the_chosen_calendar(
    app_ctx, client, seller, caldav_server
):
    # given a CalDAV account whose first calendar receives bookings and blocks slots
    calendar = own_calendar(caldav_server, "alice", f"bookings-{seller['id']}")
    connection = connect_receiving(client, seller, caldav_server, calendar)
    patched = client.patch(
        f"/api/v1/offerings/{seller['offering_id']}",
        json={"location": "12 rue des Lilas, Lyon"},
        headers=seller["headers"],
    )
    assert patched.status_code == 200, patched.get_json()
    # when a booking is confirmed
    start = datetime(2027, 3, 17, 10, 0, tzinfo=PARIS)
    booking = _pending_booking(seller, start, "bkg_manage_token")
    lifecycle.transition(db.session, booking, CONFIRMED, actor=events.STRIPE)
    db.session.commit()
    assert run_writes() == [f"booking {booking.id}: calendar event written"]
    # then the event is in the calendar, with the invite's UID and the client
    (event,) = _events(calendar)
    assert str(event["UID"]) == f"booking-{booking.id}@acompte"
    assert event["DTSTART"].dt == start
    assert str(event["ATTENDEE"]) == "mailto:camille@example.test"
    assert str(event["LOCATION"]) == "12 rue des Lilas, Lyon"
    assert run_writes() == []  # done once; a retry of a done row does nothing
    # and the booking's own event does not block the booking's own move
    sync(connection["id"])
    moved_to = start + timedelta(hours=1)
    with clock.frozen(NOW):
        reschedule(db.session, booking.id, "bkg_manage_token", moved_to, now=NOW)
    assert run_writes() == [f"booking {booking.id}: calendar event written"]
    (event,) = _events(calendar)
    assert event["DTSTART"].dt == moved_to and int(event["SEQUENCE"]) == 1
    # when it is cancelled, the event goes
    booking = db.session.get(Booking, booking.id)
    lifecycle.transition(db.session, booking, CANCELLED, actor=events.CLIENT)
    db.session.commit()
    assert run_writes() == [f"booking {booking.id}: calendar event removed"]
    assert _events(calendar) == []


def test_a_write_that_fails_is_retried_and_repeats_nothing(app_ctx, client, seller, caldav_server):
    calendar = own_calendar(caldav_server, "alice", f"retry-{seller['id']}")
    connection = connect_receiving(client, seller, caldav_server, calendar)
    booking = _pending_booking(seller, datetime(2027, 3, 18, 9, 0, tzinfo=PARIS), "bkg_t2")
    lifecycle.transition(db.session, booking, CONFIRMED, actor=events.STRIPE)
    db.session.commit()
    # given the server refuses (a password changed on the server side)
    row = db.session.get(CalendarConnection, connection["id"])
    row.password_enc = secret_box().encrypt("changed")
    db.session.commit()
    (line,) = run_writes()
    assert "calendar write failed" in line and "refused" in line
    write = db.session.scalar(select(CalendarWrite))
    assert write.attempts == 1 and write.due_at == NOW + timedelta(minutes=1)
    assert run_writes() == []  # not due before its backoff
    # when the password is right again, the retry writes one event
    row = db.session.get(CalendarConnection, connection["id"])
    row.password_enc = secret_box().encrypt(USERS["alice"])
    db.session.commit()
    later = NOW + timedelta(minutes=1)
    assert run_writes(later) == [f"booking {booking.id}: calendar event written"]
    assert len(_events(calendar)) == 1


# --- bad input and tenant isolation -----------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "ics", "url": "ftp://example.test/cal.ics"}, "url"),
        ({"kind": "ics", "url": "not a url"}, "url"),
        ({"kind": "webcal", "url": "https://example.test/"}, "kind"),
        ({"kind": "caldav", "url": "{server}"}, "username"),
        (
            {"kind": "caldav", "url": "{server}", "username": "alice", "password": "wrong"},
            "password",
        ),
        ({"kind": "caldav", "url": "http://127.0.0.1:{closed}/", "username": "a"}, "url"),
        ({"kind": "ics", "url": "{feed}missing.ics"}, "url"),
        ({"kind": "ics", "url": "{feed}page.ics"}, "url"),
        ({"kind": "ics", "url": "https://example.test/", "extra": 1}, "extra"),
    ],
)
def test_bad_connections_are_refused_clearly_and_store_nothing(
    app_ctx, client, seller, caldav_server, feed, body, field
):
    from tests.support.calendar_servers import free_port

    feed.documents["page.ics"] = b"<html><body>Not a calendar</body></html>"
    values = {"server": caldav_server, "feed": feed.url(""), "closed": free_port()}
    body = {k: v.format(**values) if isinstance(v, str) else v for k, v in body.items()}
    answer = connect(client, seller, **body)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["error"]["fields"], answer.get_json()
    assert db.session.scalar(select(func.count()).select_from(CalendarConnection)) == 0


def test_private_addresses_are_refused_unless_allowed(app, client, seller):
    app.config["CALENDAR_ALLOW_PRIVATE_HOSTS"] = False
    answer = connect(client, seller, kind="ics", url="http://127.0.0.1:9/cal.ics")
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"]["url"] == [
        "This address is not reachable from the internet."
    ]


def test_another_freelancers_calendar_is_404(app_ctx, client, seller, make_freelancer, feed):
    feed.documents["weekly.ics"] = WEEKLY
    connection = connect(client, seller, kind="ics", url=feed.url("weekly.ics")).get_json()
    other = make_freelancer()
    path = f"/api/v1/calendars/{connection['id']}"
    assert client.get(path, headers=other["headers"]).status_code == 404
    patch = {"calendars": [{"id": connection["calendars"][0]["id"], "blocks": False}]}
    assert client.patch(path, json=patch, headers=other["headers"]).status_code == 404
    assert client.delete(path, headers=other["headers"]).status_code == 404
    assert client.get("/api/v1/calendars", headers=other["headers"]).get_json() == {"calendars": []}
    # the owner still has it, and can stop it blocking, then remove it
    assert client.patch(path, json=patch, headers=seller["headers"]).status_code == 200
    assert client.delete(path, headers=seller["headers"]).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(BusyTime)) == 0


def test_a_feed_cannot_receive_bookings(app_ctx, client, seller, feed):
    feed.documents["weekly.ics"] = WEEKLY
    connection = connect(client, seller, kind="ics", url=feed.url("weekly.ics")).get_json()
    answer = client.patch(
        f"/api/v1/calendars/{connection['id']}",
        json={"calendars": [{"id": connection["calendars"][0]["id"], "receives_bookings": True}]},
        headers=seller["headers"],
    )
    assert answer.status_code == 422
    assert "calendars" in answer.get_json()["error"]["fields"]


# --- the page -------------------------------------------------------------------


def _csrf(client, path: str) -> str:
    import re

    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_page_adds_lists_chooses_and_removes_a_calendar(client, seller, feed, db_session):
    feed.documents["weekly.ics"] = WEEKLY
    token = _csrf(client, "/login")
    logged_in = client.post(
        "/login",
        data={"email": seller["email"], "password": seller["password"], "csrf_token": token},
    )
    assert logged_in.status_code == 302
    # a bad address is refused on the page, in French, and nothing is stored
    token = _csrf(client, "/settings/calendars")
    refused = client.post(
        "/settings/calendars", data={"kind": "ics", "url": "ftp://x", "csrf_token": token}
    )
    assert refused.status_code == 422
    assert "Indiquez une adresse http:// ou https://." in refused.get_data(as_text=True)
    # a feed is added and listed
    added = client.post(
        "/settings/calendars",
        data={"kind": "ics", "url": feed.url("weekly.ics"), "csrf_token": token},
        follow_redirects=True,
    )
    assert added.status_code == 200
    page = added.get_data(as_text=True)
    assert feed.url("weekly.ics") in page and "Pas encore lu" in page
    (connection,) = db_session.scalars(select(CalendarConnection))
    calendar_id = client.get("/api/v1/calendars", headers=seller["headers"]).get_json()[
        "calendars"
    ][0]["calendars"][0]["id"]
    # it stops blocking when unticked
    client.post(
        f"/settings/calendars/{connection.id}/choices",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    listed = client.get("/api/v1/calendars", headers=seller["headers"]).get_json()
    (item,) = listed["calendars"][0]["calendars"]
    assert item["id"] == calendar_id and item["blocks"] is False
    # and goes when removed
    removed = client.post(
        f"/settings/calendars/{connection.id}/remove",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Aucun agenda connecté" in removed.get_data(as_text=True)
    assert client.get("/api/v1/calendars", headers=seller["headers"]).get_json() == {
        "calendars": []
    }
