"""What a client reads before and after booking: the public profile, free slots, their booking.

Read-only: nothing here locks, writes or calls Stripe.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from billing.db import utcnow
from webapp.accounts.models import Freelancer
from webapp.booking import policies
from webapp.booking.amounts import money_plan
from webapp.booking.errors import NotFound
from webapp.booking.ledger import totals
from webapp.booking.lifecycle import booking_for_client, hold_policy_unsecured, terms_of
from webapp.booking.models import CONFIRMED, DEPOSIT, PENDING_PAYMENT, Offering
from webapp.booking.service import (
    freelancer_by_slug,
    get_availability,
    get_offering,
    offerings,
    spec_of,
)
from webapp.booking.settlement import cancellation_quote
from webapp.booking.slots import Rules
from webapp.public.wording import money
from webapp.stripe_connect import credentials


def terms_in_words(terms: policies.Terms) -> dict[str, str]:
    """The policy and cancellation terms as a client reads them, before paying."""
    price = money(terms.amount_minor, terms.currency)
    if terms.policy == "prepay":
        payment = _("The full price (%(price)s) is charged when you book.", price=price)
    elif terms.policy == "hold":
        payment = _(
            "%(price)s is reserved on your card when you book and charged after the session.",
            price=price,
        )
    else:
        deposit = money(policies.deposit_minor(terms), terms.currency)
        payment = _(
            "A deposit of %(deposit)s is charged when you book; the rest after the session.",
            deposit=deposit,
        )
    late = money(terms.price.percent(terms.late_cancel_fee_bp).amount_minor, terms.currency)
    no_show = money(terms.price.percent(terms.no_show_fee_bp).amount_minor, terms.currency)
    cancellation = _(
        "Free cancellation until %(hours)s hours before the start; after that, "
        "%(late)s is kept. If you do not come, %(no_show)s is kept.",
        hours=terms.free_cancel_hours,
        late=late,
        no_show=no_show,
    )
    return {"payment": payment, "cancellation": cancellation}


def public_profile(session: Session, slug: str) -> dict:
    """`GET /public/freelancers/{slug}`: name, zone, publishable key and offerings."""
    freelancer = freelancer_by_slug(session, slug)
    availability = get_availability(session, freelancer)
    out = []
    for offering in offerings(session, freelancer.id, active_only=True):
        terms = policies.Terms(
            offering.payment_policy,
            offering.amount_minor,
            offering.currency,
            offering.deposit_bp,
            offering.free_cancel_hours,
            offering.late_cancel_fee_bp,
            offering.no_show_fee_bp,
        )
        out.append(
            {
                "id": offering.id,
                "title": offering.title,
                "description": offering.description,
                "location": offering.location,
                "duration_minutes": offering.duration_minutes,
                "amount_minor": offering.amount_minor,
                "currency": offering.currency,
                "payment_policy": offering.payment_policy,
                "deposit_amount_minor": policies.deposit_minor(terms)
                if offering.payment_policy == DEPOSIT
                else None,
                "deposit_percent": offering.deposit_bp / 100,
                "free_cancel_hours": offering.free_cancel_hours,
                "late_cancel_fee_percent": offering.late_cancel_fee_bp / 100,
                "no_show_fee_percent": offering.no_show_fee_bp / 100,
                "buffer_minutes": max(
                    offering.buffer_before_minutes, offering.buffer_after_minutes
                ),
                "late_cancel_fee_amount_minor": terms.price.percent(
                    offering.late_cancel_fee_bp
                ).amount_minor,
                "no_show_fee_amount_minor": terms.price.percent(
                    offering.no_show_fee_bp
                ).amount_minor,
                "terms": terms_in_words(terms),
            }
        )
    return {
        "slug": freelancer.slug,
        "display_name": freelancer.display_name,
        "bio": freelancer.bio,
        "photo_url": f"/{freelancer.slug}/photo?v={freelancer.photo_sha256[:12]}"
        if freelancer.photo_sha256
        else None,
        "timezone": availability.timezone,
        "publishable_key": credentials(freelancer.id).publishable_key,
        "stripe_js_url": current_app.config.get("STRIPE_JS_URL"),
        "offerings": out,
    }


def public_slots(
    session: Session, slug: str, offering_id: int, first: date, last: date, tz: str
) -> list[dict]:
    """Free slots between two dates of the client's zone, rendered in that zone.

    What the slots depend on besides bookings and calendar busy times (the
    hours, the offering's duration, buffers, notice and horizon) is read once
    per public version of the freelancer (`webapp.public.cache`); a request
    then reads the version, and the bookings and busy times of the window in one
    statement (`webapp.public.slots_window`).
    """
    from webapp.public import cache, slots_window

    found = cache.version_of(session, slug)
    if found is None:
        raise NotFound(f"no freelancer {slug}")
    freelancer_id, version = found
    key = (freelancer_id, version, "slots", offering_id)
    plan = cache.cached(key, lambda: _slot_plan(session, slug, offering_id))
    return slots_window.public_slots(session, key, plan, first, last, tz, utcnow())


def _slot_plan(session: Session, slug: str, offering_id: int) -> dict:
    """The freelancer's hours and the offering's slot needs (NotFound: not on sale)."""
    freelancer = freelancer_by_slug(session, slug)
    offering = get_offering(session, freelancer.id, offering_id)
    if not offering.active:
        raise NotFound("offering not on sale")
    availability = get_availability(session, freelancer)
    rules = Rules(
        availability.timezone, list(availability.weekly), list(availability.exceptions or ())
    )
    return {"rules": rules, "spec": spec_of(offering)}


def client_view(
    session: Session, booking_id: int, token: str, *, now: datetime | None = None
) -> dict:
    """The booking as its client sees it, with the cancellation quote for now."""
    now = now or utcnow()
    booking = booking_for_client(session, booking_id, token)
    freelancer = session.get(Freelancer, booking.freelancer_id)
    offering = session.get(Offering, booking.offering_id)
    t = totals(session, booking)
    terms = terms_of(booking)
    return {
        "booking_id": booking.id,
        "status": booking.status,
        "title": booking.title,
        "offering_id": booking.offering_id,
        "freelancer": {"slug": freelancer.slug, "display_name": freelancer.display_name},
        "start": booking.start_at.isoformat(),
        "end": booking.end_at.isoformat(),
        "client": {"name": booking.client_name, "email": booking.client_email},
        "client_timezone": booking.client_timezone,
        "amount_minor": booking.amount_minor,
        "currency": booking.currency,
        "timezone": booking.client_timezone,
        "payment_policy": booking.payment_policy,
        "deposit_percent": booking.deposit_bp / 100,
        "free_cancel_hours": booking.free_cancel_hours,
        "late_cancel_fee_percent": booking.late_cancel_fee_bp / 100,
        "no_show_fee_percent": booking.no_show_fee_bp / 100,
        "payment_state": booking.payment_state,
        "secured_amount_minor": t.secured_minor,
        "charged_amount_minor": t.captured_minor,
        "refunded_amount_minor": t.refunded_minor,
        "terms": terms_in_words(terms),
        "money": money_plan(session, booking).as_json(),
        "location": offering.location if offering else "",
        "client_locale": booking.client_locale,
        "cancellation": cancellation_quote(booking, now, t),
        "can_reschedule": booking.status in (PENDING_PAYMENT, CONFIRMED)
        and now <= policies.free_cancel_until(booking.start_at, terms),
        "needs_card": hold_policy_unsecured(booking) and booking.payment_state == "failed",
        "pending_expires_at": booking.pending_expires_at.isoformat()
        if booking.pending_expires_at
        else None,
    }
