"""The freelancer's pages: offerings, availability, bookings with their actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from billing.errors import AlreadyDone, GatewayError, NotAllowed
from billing.money import format_major, parse_major
from webapp.booking import closing, lifecycle, policies, service
from webapp.booking.errors import NotFound
from webapp.booking.schemas import AvailabilitySchema, OfferingSchema, dump_offering
from webapp.extensions import db

bp = Blueprint("booking", __name__, url_prefix="/sessions")

WEEKDAYS = range(7)
_INT_FIELDS = (
    "duration_minutes",
    "amount_minor",
    "free_cancel_hours",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "min_notice_minutes",
    "horizon_days",
    "hold_lead_hours",
    "secure_deadline_hours",
)
_OPTIONAL = _INT_FIELDS + (
    "deposit_percent",
    "late_cancel_fee_percent",
    "no_show_fee_percent",
    "description",
    "location",
)


def _form_errors(exc: ValidationError) -> dict[str, list[str]]:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return {
        k: v
        if isinstance(v, list)
        else [str(m) for m in (v.values() if isinstance(v, dict) else [v])]
        for k, v in messages.items()
    }


def _offering_form(form: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in ("title", "description", "currency", "payment_policy", *_OPTIONAL):
        value = (form.get(name) or "").strip()
        if value == "" and name in _OPTIONAL:
            continue
        if name in _INT_FIELDS:
            data[name] = int(value) if value.lstrip("-").isdigit() else value
        else:
            data[name] = value
    data["active"] = form.get("active") == "on"
    # People type prices in euros ("90" or "90,50"); the API speaks minor units.
    price = (form.get("price") or "").strip()
    if price:
        minor = parse_major(price, data.get("currency") or "eur")
        data["amount_minor"] = price if minor is None else minor
    return data


def _price_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    if "amount_minor" in errors:
        errors["price"] = errors.pop("amount_minor")
    return errors


@bp.get("/offerings")
@login_required
def offerings():
    items = [dump_offering(o) for o in service.offerings(db.session, current_user.id)]
    return render_template("booking/offerings.html", offerings=items)


@bp.route("/offerings/new", methods=["GET", "POST"])
@bp.route("/offerings/<int:offering_id>", methods=["GET", "POST"])
@login_required
def offering_form(offering_id: int | None = None):
    offering = None
    if offering_id is not None:
        try:
            offering = service.get_offering(db.session, current_user.id, offering_id)
        except NotFound:
            abort(404)
    form: dict[str, Any] = (
        dump_offering(offering)
        if offering
        else {"currency": current_user.currency, "payment_policy": "hold", "active": True}
    )
    if offering:
        form["price"] = format_major(offering.amount_minor, offering.currency)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        submitted = {k: v for k, v in request.form.items() if k != "csrf_token"}
        form.update(submitted)
        form["active"] = submitted.get("active") == "on"
        try:
            data = OfferingSchema(current=offering, partial=offering is not None).load(
                _offering_form(submitted)
            )
        except ValidationError as exc:
            errors = _price_errors(_form_errors(exc))
        else:
            if offering is None:
                service.create_offering(db.session, current_user.id, data)
            else:
                service.update_offering(db.session, offering, data)
            db.session.commit()
            flash(_("Offering saved."))
            return redirect(url_for("booking.offerings"))
    status = 422 if errors else 200
    return render_template(
        "booking/offering_form.html", form=form, errors=errors, offering=offering
    ), status


@bp.post("/offerings/<int:offering_id>/archive")
@login_required
def archive(offering_id: int):
    try:
        offering = service.get_offering(db.session, current_user.id, offering_id)
    except NotFound:
        abort(404)
    service.archive_offering(db.session, offering)
    db.session.commit()
    flash(_("Offering withdrawn; its bookings stay."))
    return redirect(url_for("booking.offerings"))


@bp.route("/availability", methods=["GET", "POST"])
@login_required
def availability():
    """The weekly grid and the dated exceptions, each error next to its row."""
    from webapp.accounts.schemas import ALL_TIMEZONES
    from webapp.booking import availability_form

    current = service.get_availability(db.session, current_user)
    saved = {
        "timezone": current.timezone,
        "weekly": current.weekly or [],
        "exceptions": current.exceptions or [],
    }
    form = availability_form.view(saved)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        body, places = availability_form.parse(request.form)
        form = availability_form.view(body)
        try:
            data = AvailabilitySchema().load(body)
        except ValidationError as exc:
            errors = availability_form.errors_by_row(exc, places, body)
        else:
            service.put_availability(db.session, current_user, data)
            db.session.commit()
            flash(_("Availability saved."))
            return redirect(url_for("booking.availability"))
    status = 422 if errors else 200
    return render_template(
        "booking/availability.html",
        form=form,
        errors=errors,
        weekdays=WEEKDAYS,
        zones=sorted(ALL_TIMEZONES),
    ), status


# A checkout the client never finished is not a session: hidden unless asked for.
UNFINISHED = ("pending_payment", "expired", "payment_failed", "requires_action")


@bp.get("/bookings")
@login_required
def bookings():
    """Upcoming and past sessions; unfinished checkouts only with `?all=1`."""
    from webapp.booking.api import dump_booking

    show_all = request.args.get("all") == "1"

    def shown(rows: list[Any]) -> list[dict[str, Any]]:
        return [dump_booking(b) for b in rows if show_all or b.status not in UNFINISHED]

    upcoming = shown(lifecycle.list_bookings(db.session, current_user.id, upcoming=True))
    past = shown(lifecycle.list_bookings(db.session, current_user.id, upcoming=False))
    return render_template("booking/bookings.html", upcoming=upcoming, past=past, show_all=show_all)


@bp.get("/bookings/<int:booking_id>")
@login_required
def booking_detail(booking_id: int):
    """One booking in words, with what each action would do to the money."""
    from webapp.booking.api import dump_booking

    try:
        booking = lifecycle.get_booking(db.session, current_user.id, booking_id)
    except NotFound:
        abort(404)
    view = dump_booking(booking, with_timeline=True)
    terms = lifecycle.terms_of(booking)
    return render_template(
        "booking/booking.html",
        booking=view,
        no_show_fee=policies.no_show_fee(terms),
        refund=max(view["payment"]["captured_minor"] - view["payment"]["refunded_minor"], 0),
    )


_ACTIONS = {
    "complete": closing.complete,
    "no-show": closing.mark_no_show,
    "cancel": closing.cancel_by_freelancer,
}


@bp.post("/bookings/<int:booking_id>/<action>")
@login_required
def booking_action(booking_id: int, action: str):
    fn = _ACTIONS.get(action)
    if fn is None:
        abort(404)
    try:
        fn(db.session, current_user.id, booking_id)
    except NotFound:
        db.session.rollback()
        abort(404)
    except AlreadyDone:
        db.session.rollback()
        flash(_("Already done."))
    except NotAllowed as exc:
        db.session.rollback()
        flash(_("Not possible now: %(reason)s", reason=str(exc)))
    except GatewayError:
        db.session.rollback()
        flash(_("The payment service did not answer; please try again."))
    else:
        flash(_("Done."))
    return redirect(url_for("booking.booking_detail", booking_id=booking_id))
