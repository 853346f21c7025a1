"""The freelancer's own calendars: busy times block slots, bookings land in the calendar.

`models` (tables), `busy` (iCalendar → busy spans, pure), `remote` (the only
code that talks to CalDAV servers and feeds), `store` (busy rows; what slot
requests read), `service` (connect, choose, remove), `sync` and `writeback`
(the due kinds `calendar-sync` and `calendar-write`), `api` and `routes`.
"""

from __future__ import annotations

from flask import Flask

# The modules that attach this feature's routes to the API blueprint, imported by
# the app factory before it registers that blueprint (not on import: the due work
# and the models import this package without its API).
API_MODULES: tuple[str, ...] = ("webapp.calendars.api",)


def connect(app: Flask) -> None:
    """The write-back's listener on booking timelines (every command: run-due moves bookings)."""
    from webapp.booking.lifecycle import listen
    from webapp.calendars.writeback import booking_changed

    listen(booking_changed)


def register(app: Flask) -> None:
    """The calendars page."""
    from webapp.calendars.routes import bp

    app.register_blueprint(bp)
