"""The freelancer's own calendars against real servers on 127.0.0.1.

Radicale (CalDAV, from PyPI) and an ICS feed served by the test: busy times
remove exactly the right slots (a weekly event, one occurrence moved, one
cancelled, across the end of March 2027's daylight-saving change in Paris);
a server that goes down keeps the last busy times and marks the connection
(the write-back: test_calendar_writeback.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from billing import clock
from tests.support.calendar_servers import USERS
from tests.support.calendar_world import (
    FREE_TIME,
    NOW,
    PARIS,
    WEEKLY,
    connect,
    own_calendar,
    slot_starts,
    sync,
)
from webapp.booking.models import Booking
from webapp.calendars.models import BusyTime, CalendarConnection
from webapp.extensions import db
from webapp.mail.models import OutboundEmail

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


def test_a_feed_that_redirects_is_followed(app_ctx, client, seller, feed):
    feed.documents["calendar/weekly.ics"] = WEEKLY
    feed.redirects["old.ics"] = "/calendar/weekly.ics"
    feed.redirects["loop.ics"] = "/loop.ics"
    connection = connect(client, seller, kind="ics", url=feed.url("old.ics")).get_json()
    assert "busy time" in sync(connection["id"])
    assert "2027-03-16 10:00" not in slot_starts(seller)
    looping = connect(client, seller, kind="ics", url=feed.url("loop.ics"))
    assert looping.status_code == 422
    assert looping.get_json()["error"]["fields"]["url"] == ["The feed redirects too many times."]


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
