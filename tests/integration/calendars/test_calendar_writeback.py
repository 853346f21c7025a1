"""Write-back against Radicale: confirmed bookings become events in the chosen calendar,
move with reschedules, go with cancellations; a failed write is retried, never doubled."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from billing import clock, events
from tests.support.calendar_servers import USERS
from tests.support.calendar_world import (
    NOW,
    PARIS,
    calendar_events,
    connect_receiving,
    own_calendar,
    pending_booking,
    run_writes,
    sync,
)
from webapp.booking import lifecycle
from webapp.booking.models import CANCELLED, CONFIRMED, Booking
from webapp.booking.reschedule import reschedule
from webapp.calendars.models import CalendarConnection, CalendarWrite
from webapp.extensions import db
from webapp.stripe_connect import secret_box


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
    booking = pending_booking(seller, start, "bkg_manage_token")
    lifecycle.transition(db.session, booking, CONFIRMED, actor=events.STRIPE)
    db.session.commit()
    assert run_writes() == [f"booking {booking.id}: calendar event written"]
    # then the event is in the calendar, with the invite's UID and the client
    (event,) = calendar_events(calendar)
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
    (event,) = calendar_events(calendar)
    assert event["DTSTART"].dt == moved_to and int(event["SEQUENCE"]) == 1
    # when it is cancelled, the event goes
    booking = db.session.get(Booking, booking.id)
    lifecycle.transition(db.session, booking, CANCELLED, actor=events.CLIENT)
    db.session.commit()
    assert run_writes() == [f"booking {booking.id}: calendar event removed"]
    assert calendar_events(calendar) == []


def test_a_write_that_fails_is_retried_and_repeats_nothing(app_ctx, client, seller, caldav_server):
    calendar = own_calendar(caldav_server, "alice", f"retry-{seller['id']}")
    connection = connect_receiving(client, seller, caldav_server, calendar)
    booking = pending_booking(seller, datetime(2027, 3, 18, 9, 0, tzinfo=PARIS), "bkg_t2")
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
    assert len(calendar_events(calendar)) == 1
