"""`/<slug>/times`: the booking page without JavaScript (issue 15).

The month calendar needs JavaScript, and so do paying by card (Stripe.js) and
booking; without it the booking page links here: the next two weeks' free times
of one offering as a plain list, in a zone the visitor can choose.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, render_template, request
from flask_babel import format_datetime

from webapp.accounts.schemas import ALL_TIMEZONES, SLUG_RE
from webapp.booking import public
from webapp.booking.errors import NotFound
from webapp.extensions import db
from webapp.public import reads
from webapp.public.routes import bp, offering_view

NO_SCRIPT_DAYS = 14


@bp.get("/<slug>/times")
def times(slug: str):
    """The next two weeks' free times of one offering as a plain list (the page without JS)."""
    freelancer = reads.profile(slug) if SLUG_RE.match(slug) else None
    offering = next(
        (
            o
            for o in (freelancer or {}).get("offerings") or []
            if str(o.get("id")) == request.args.get("offering", "")
        ),
        None,
    )
    if freelancer is None or offering is None:
        abort(404)
    tz = request.args.get("tz", "")
    tz = tz if tz in ALL_TIMEZONES else freelancer.get("timezone") or "Europe/Paris"
    first = datetime.now(ZoneInfo(tz)).date()
    try:
        slots = public.public_slots(
            db.session, slug, offering["id"], first, first + timedelta(days=NO_SCRIPT_DAYS - 1), tz
        )
    except NotFound:
        abort(404)
    by_day: dict[str, list[str]] = {}
    for slot in slots:
        start = datetime.fromisoformat(slot["start"])
        day = format_datetime(start, "EEEE d MMMM", rebase=False)
        by_day.setdefault(day, []).append(format_datetime(start, "HH:mm", rebase=False))
    return render_template(
        "public/times.html",
        freelancer=freelancer,
        offering=offering_view(offering),
        days=by_day,
        tz=tz,
    )
