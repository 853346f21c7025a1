"""Client pages: `/<slug>` (book and pay), `/b/<id>/confirmed`, `/b/<id>/manage`, the `.ics`.

Every page reads what the public JSON API answers, from the same service
functions in its own request (`webapp.public.reads`), renders what it can on
the server (names, prices and terms formatted with Babel, in the
client's language) and lets `static/js/booking.js` do the interactive parts
against the same API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _

from webapp.accounts.schemas import RESERVED_SLUGS, SLUG_RE
from webapp.public import reads, wording

bp = Blueprint("public", __name__)

# A pending booking holds its slot this long (the booking feature enforces it).
HOLD_MINUTES = 15
TOKEN_MAX_LENGTH = 200


@bp.after_request
def _private(response: Response) -> Response:
    # Manage links carry a bearer token in the query string: never leak it to
    # another site through Referer, never keep these pages in a shared cache.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _lang_url() -> dict[str, Any]:
    def lang_url(code: str) -> str:
        """This page in another language, keeping its query (a manage link's token)."""
        args = {**request.args.to_dict(), "lang": code}
        return url_for(request.endpoint or "accounts.home", **(request.view_args or {}), **args)

    return {"lang_url": lang_url}


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    """A date and time in `zone`, named, in the client's language (JS re-renders it locally)."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{format_datetime(local, 'full')} ({zone.key})"


def _on(moment: datetime, zone: ZoneInfo) -> str:
    """A date and time in `zone`, short ("5 déc. 2026, 08:00")."""
    from webapp.notifications.service import local_time

    return local_time(moment, zone.key)


def offering_view(offering: dict[str, Any]) -> dict[str, Any]:
    """An offering from the API plus its price, duration, policy and terms in words."""
    due = wording.due_now(offering)
    return {
        **offering,
        "price": wording.money(offering.get("amount_minor"), offering.get("currency")),
        "duration": wording.duration(offering.get("duration_minutes")),
        "policy_text": wording.policy_text(offering),
        "terms_text": wording.terms_text(offering),
        "due_now": due[0],
        "pay_label": due[1],
    }


def _js_messages() -> dict[str, str]:
    """The strings booking.js and checkout.js show, translated on the server."""
    return {
        "declined": _("Your card was declined. Please try another card."),
        "authentication_failed": _(
            "The authentication with your bank failed, so nothing was charged. "
            "Please try again or use another card."
        ),
        "card_error": _("There is a problem with this card: %(detail)s", detail="{detail}"),
        "network": _("We could not reach the server. Check your connection and try again."),
        "slot_taken": _(
            "Sorry, this time was just taken by someone else. Please choose another time."
        ),
        "expired": _("The time we held for you has run out. Please choose a time again."),
        "generic": _("Something went wrong. Nothing was charged; please try again."),
        "no_slots": _("No free time in these weeks."),
        "loading": _("Loading free times…"),
        "choose_day": _("Choose a day"),
        "choose_time": _("Choose a time"),
        "paying": _("Booking and securing your payment…"),
        "required_name": _("Please enter your name."),
        "invalid_email": _("Please enter a valid e-mail address."),
        "held": _(
            "We hold this time for you for %(minutes)s minutes while you pay.",
            minutes=HOLD_MINUTES,
        ),
        "cancelled": _("Your booking is cancelled."),
        "rescheduled": _("Your booking was moved."),
        "selected": _("Selected: %(when)s", when="{when}"),
        # the month calendar (calendar.js)
        "previous_month": _("Previous month"),
        "next_month": _("Next month"),
        "no_free_day": _("no free time"),
        "free_time_one": _("1 free time"),
        "free_times_count": _("%(count)s free times", count="{count}"),
        "no_slots_month": _("No free time this month. Try the next month."),
        "unknown_zone": _(
            "%(zone)s is not a time zone we know: choose one from the list.", zone="{zone}"
        ),
    }


def _page_config(**extra: Any) -> dict[str, Any]:
    cfg = current_app.config
    return {
        "locale": str(get_locale()),
        "stripe_js_url": cfg["STRIPE_JS_URL"],
        "hold_minutes": HOLD_MINUTES,
        "messages": _js_messages(),
        **extra,
    }


@bp.get("/<slug>")
def book(slug: str):
    """The freelancer's public booking page: offerings, free slots, checkout."""
    if slug in RESERVED_SLUGS or not SLUG_RE.match(slug):
        abort(404)
    freelancer, key = reads.profile_with_key(slug)
    if freelancer is None:
        abort(404)
    return reads.page(key, "book", lambda: _render_book(slug, freelancer))


def _render_book(slug: str, freelancer: dict[str, Any]) -> str:
    offerings = [offering_view(o) for o in freelancer.get("offerings") or []]
    config = _page_config(
        page="book",
        slug=slug,
        publishable_key=freelancer.get("publishable_key")
        or current_app.config["STRIPE_PUBLISHABLE_KEY"],
        freelancer_timezone=freelancer.get("timezone") or "Europe/Paris",
        offerings=[
            {
                "id": o.get("id"),
                "title": o.get("title"),
                "price": o["price"],
                "duration": o["duration"],
                "policy_text": o["policy_text"],
                "terms_text": o["terms_text"],
                "due_now": o["due_now"],
                "pay_label": o["pay_label"],
            }
            for o in offerings
        ],
    )
    return render_template(
        "public/book.html",
        freelancer=freelancer,
        offerings=offerings,
        config=config,
        asks=bool(freelancer.get("asks")),
    )


def _booking_or_404(booking_id: int) -> tuple[dict[str, Any], str]:
    token = request.args.get("token", "")
    if not token or len(token) > TOKEN_MAX_LENGTH:
        abort(404)
    data = reads.booking(booking_id, token)
    if data is None:
        # Wrong token, unknown booking or another booking's token: all look the same.
        abort(404)
    return data, token


def booking_view(data: dict[str, Any]) -> dict[str, Any]:
    """The API's booking, tolerant of optional parts, with its words and formatted money."""
    offering = data.get("offering") or {}
    freelancer = data.get("freelancer") or {}
    payment = data.get("payment") or {}
    quote_ = data.get("cancellation") or data.get("cancellation_quote") or {}
    currency = data.get("currency") or offering.get("currency")
    zone = _zone(data.get("timezone") or freelancer.get("timezone"))
    start = _parse_time(data.get("start"))
    payment_state = data.get("payment_state") or payment.get("state") or payment.get("status")
    fee = quote_.get("fee_amount_minor")
    refund = quote_.get("refund_amount_minor", quote_.get("refunded_amount_minor"))
    release = quote_.get("release_amount_minor")
    status = data.get("status")
    plan = data.get("money") or {}
    return {
        "id": data.get("id") or data.get("booking_id"),
        "status": status,
        "status_text": wording.status_text(status),
        "title": data.get("title") or data.get("offering_title") or offering.get("title") or "",
        "freelancer_name": freelancer.get("display_name") or data.get("freelancer_name") or "",
        "freelancer_slug": freelancer.get("slug") or data.get("freelancer_slug"),
        "offering_id": data.get("offering_id") or offering.get("id"),
        "client_name": (data.get("client") or {}).get("name", ""),
        "start": data.get("start"),
        "end": data.get("end"),
        "when": _when(start, zone),
        "price": wording.money(data.get("amount_minor", offering.get("amount_minor")), currency),
        "policy_text": wording.policy_text({**offering, **data}),
        "terms_text": wording.terms_text({**offering, **data}),
        "payment_state_text": wording.payment_state_text(payment_state),
        "can_cancel": bool(data.get("can_cancel", quote_.get("allowed", status == "confirmed"))),
        "can_reschedule": bool(data.get("can_reschedule", status == "confirmed")),
        "fee": wording.money(fee, currency) if fee is not None else None,
        "refund": wording.money(refund, currency) if refund else None,
        "release": wording.money(release, currency) if release else None,
        "free_cancellation": fee == 0 if fee is not None else None,
        "location": data.get("location") or offering.get("location") or "",
        "needs_card": bool(data.get("needs_card")),
        "money": money_lines(plan, currency, zone),
    }


def money_lines(plan: dict[str, Any], currency: str | None, zone: ZoneInfo) -> list[tuple]:
    """What the client's money does, line by line: charged, held, refunded, released, later."""
    if not plan or not currency:
        return []

    def amount(key: str) -> str:
        return wording.money(plan.get(key), currency)

    lines = []
    if plan.get("charged_minor"):
        lines.append((_("Charged"), amount("charged_minor")))
    if plan.get("held_minor"):
        lines.append((_("Held on your card (not charged yet)"), amount("held_minor")))
    if plan.get("refunded_minor"):
        lines.append((_("Refunded"), amount("refunded_minor")))
    if plan.get("released_minor"):
        lines.append((_("Hold released (never charged)"), amount("released_minor")))
    hold_at = _parse_time(plan.get("hold_at"))
    if hold_at is not None:
        lines.append(
            (
                _("To be held on your card"),
                _("%(amount)s on %(date)s", amount=amount("later_minor"), date=_on(hold_at, zone)),
            )
        )
    later_at = _parse_time(plan.get("later_at"))
    if plan.get("later_minor") and later_at is not None:
        lines.append(
            (
                _("Charged after the session"),
                _("%(amount)s on %(date)s", amount=amount("later_minor"), date=_on(later_at, zone)),
            )
        )
    if not lines:
        lines.append((_("Charged"), wording.money(0, currency)))
    return lines


def _booking_page(template: str, booking_id: int):
    data, token = _booking_or_404(booking_id)
    booking = booking_view(data)
    config = _page_config(
        page="manage",
        booking_id=booking_id,
        offering_id=booking["offering_id"],
        slug=booking["freelancer_slug"],
        start=booking["start"],
        end=booking["end"],
    )
    ics_url = url_for("public.ics", booking_id=booking_id, token=token)
    manage_url = url_for("public.manage", booking_id=booking_id, token=token)
    card_url = url_for("public.card", booking_id=booking_id, token=token)
    return render_template(
        template,
        booking=booking,
        config=config,
        ics_url=ics_url,
        manage_url=manage_url,
        card_url=card_url,
    )


@bp.get("/b/<int:booking_id>/confirmed")
def confirmed(booking_id: int):
    """After paying: what is booked, what is charged when, the calendar file and the manage link."""
    return _booking_page("public/confirmed.html", booking_id)


@bp.get("/b/<int:booking_id>/manage")
def manage(booking_id: int):
    """The "manage my booking" page: reschedule, cancel with the amounts shown first."""
    return _booking_page("public/manage.html", booking_id)


@bp.get("/b/<int:booking_id>/card")
def card(booking_id: int):
    """Give a new card for a booking whose hold failed: saved (SetupIntent), then held at once.

    The same checkout as the payment step (`checkout.js`): the card form's
    SetupIntent from `POST …/card-setup`, then `POST …/confirm` places the hold.
    """
    data, token = _booking_or_404(booking_id)
    booking = booking_view(data)
    profile = reads.profile(booking["freelancer_slug"] or "")
    publishable = (profile or {}).get("publishable_key")
    config = _page_config(
        page="card",
        booking_id=booking_id,
        token=token,
        publishable_key=publishable or current_app.config["STRIPE_PUBLISHABLE_KEY"],
        manage_url=url_for("public.manage", booking_id=booking_id, token=token, secured=1),
    )
    return render_template(
        "public/card.html",
        booking=booking,
        config=config,
        amount=wording.money(data.get("amount_minor"), data.get("currency")),
    )


@bp.get("/b/<int:booking_id>/booking.ics")
def ics(booking_id: int):
    """The booking as the same iCalendar event as the e-mailed invitation (one UID, SEQUENCE)."""
    from billing.db import utcnow
    from webapp.accounts.models import Freelancer
    from webapp.booking import ics as invitations
    from webapp.booking.models import Booking, Offering
    from webapp.extensions import db

    _booking_or_404(booking_id)
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        abort(404)
    freelancer = db.session.get(Freelancer, booking.freelancer_id)
    offering = db.session.get(Offering, booking.offering_id)
    body = invitations.invitation(
        booking,
        organizer_name=freelancer.display_name if freelancer else "",
        organizer_email=freelancer.email if freelancer else "",
        # A downloaded file is easily shared: it links the public page, never the manage token.
        manage_url=url_for("public.book", slug=freelancer.slug, _external=True)
        if freelancer
        else "",
        now=utcnow(),
        cancelled=booking.status in ("cancelled", "expired"),
        location=offering.location if offering else "",
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="booking-{booking_id}.ics"'
    return response
