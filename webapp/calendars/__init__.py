"""The freelancer's own calendars: busy times block slots, bookings land in the calendar.

`models` (tables), `busy` (iCalendar → busy spans, pure), `remote` (the only
code that talks to CalDAV servers and feeds), `store` (busy rows; what slot
requests read), `service` (connect, choose, remove), `sync` and `writeback`
(the due kinds `calendar-sync` and `calendar-write`), `api` and `routes`.
"""

from __future__ import annotations

from flask import Flask

from webapp.calendars import api as _api  # noqa: F401  (attaches routes to the API blueprint)


def register(app: Flask) -> None:
    """The calendars page, and the write-back's listener on booking timelines."""
    from webapp.booking.lifecycle import listen
    from webapp.calendars.routes import bp
    from webapp.calendars.writeback import booking_changed

    app.register_blueprint(bp)
    listen(booking_changed)
