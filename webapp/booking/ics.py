"""`.ics` invitations (RFC 5545) for a booked session, built with `icalendar`."""

from __future__ import annotations

from datetime import datetime

from webapp.booking.models import Booking

PRODID = "-//Acompte//Sessions//EN"


def booking_uid(booking_id: int) -> str:
    """The one UID of a booking's event: the e-mailed invite, the page's file and
    the copy written to the freelancer's calendar all use it, so they are one event."""
    return f"booking-{booking_id}@acompte"


def invitation(
    booking: Booking,
    *,
    organizer_name: str,
    organizer_email: str,
    manage_url: str,
    now: datetime,
    cancelled: bool = False,
    location: str = "",
) -> bytes:
    """A REQUEST (or CANCEL) for the session; the UID is stable so updates replace it.

    SEQUENCE follows the number of reschedules, as calendar clients expect an
    increasing sequence on each update of one UID; LOCATION is the offering's
    (an address, a phone number or a video link).
    """
    from icalendar import Calendar, Event, vCalAddress, vText

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", booking_uid(booking.id))
    event.add("dtstamp", now)
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    event.add("sequence", booking.reschedule_count + (1 if cancelled else 0))
    event.add("summary", f"{booking.title} — {organizer_name}")
    event.add("description", f"{manage_url}")
    event.add("url", manage_url)
    if location:
        event.add("location", location)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(organizer_name)
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{booking.client_email}")
    attendee.params["cn"] = vText(booking.client_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()
