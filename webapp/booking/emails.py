"""E-mails about a booking: the client's confirmation (amounts now and later, .ics, manage
link), cancellation (fee, refund, release) and fix-my-card, in the client's language; and
the freelancer's notices of the same events (`webapp.notifications`), in the same transaction.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing.db import utcnow
from webapp.accounts.models import Freelancer
from webapp.booking import ics
from webapp.booking.amounts import money_plan
from webapp.booking.models import Booking, Offering
from webapp.mail.service import send_email
from webapp.notifications import service as notices


def manage_token(booking: Booking) -> str:
    """The client's manage token, decrypted for a link in an e-mail."""
    from webapp.stripe_connect import secret_box

    return secret_box().decrypt(booking.manage_token_enc)


def manage_url(booking: Booking) -> str:
    """The client's "manage my booking" page (served by the public pages)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/b/{booking.id}/manage?token={manage_token(booking)}"


def _context(session: Session, booking: Booking) -> tuple[Freelancer, dict]:
    freelancer = session.get(Freelancer, booking.freelancer_id)
    assert freelancer is not None
    offering = session.get(Offering, booking.offering_id)
    context = {
        "booking": booking,
        "freelancer": freelancer,
        "manage_url": manage_url(booking),
        "card_url": card_url(booking),
        "zone": booking.client_timezone or "UTC",
        "currency": booking.currency,
        "plan": money_plan(session, booking),
        "location": offering.location if offering else "",
    }
    return freelancer, context


def card_url(booking: Booking) -> str:
    """The client's page to give a new card for the booking (SetupIntent, then the hold)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/b/{booking.id}/card?token={manage_token(booking)}"


def client_locale(booking: Booking) -> str:
    """The language of every e-mail and document the booking's client receives."""
    return notices.reader_locale(booking.client_locale)


def _ics(
    booking: Booking, freelancer: Freelancer, url: str, *, cancelled: bool, location: str = ""
) -> dict:
    data = ics.invitation(
        booking,
        organizer_name=freelancer.display_name,
        organizer_email=freelancer.email,
        manage_url=url,
        now=utcnow(),
        cancelled=cancelled,
        location=location,
    )
    method = "CANCEL" if cancelled else "REQUEST"
    return {
        "filename": "invite.ics",
        "content_type": f"text/calendar; method={method}",
        "data_b64": base64.b64encode(data).decode(),
    }


def send_confirmation(session: Session, booking: Booking, *, rescheduled: bool = False) -> None:
    """The booking is confirmed (or moved): details, terms, .ics and the manage link."""
    freelancer, context = _context(session, booking)
    context["rescheduled"] = rescheduled
    subject = (
        _l("Your session is moved: %(title)s", title=booking.title)
        if rescheduled
        else _l("Your session is booked: %(title)s", title=booking.title)
    )
    send_email(
        session,
        to=booking.client_email,
        subject=subject,
        template="booking_confirmed",
        context=context,
        locale=client_locale(booking),
        freelancer_id=freelancer.id,
        attachments=[
            _ics(
                booking,
                freelancer,
                context["manage_url"],
                cancelled=False,
                location=context["location"],
            )
        ],
    )
    notices.to_freelancer(
        session,
        freelancer.id,
        "booking_rescheduled" if rescheduled else "booking_new",
        title=booking.title,
        client=f"{booking.client_name} <{booking.client_email}>",
        when_at=booking.start_at,
        zone=_freelancer_zone(session, freelancer.id),
        amount_minor=booking.amount_minor,
        currency=booking.currency,
        link_url=_freelancer_link(booking),
    )


def send_cancellation(
    session: Session,
    booking: Booking,
    *,
    fee_minor: int,
    refunded_minor: int,
    released_minor: int = 0,
    by: str,
    reason: str = "",
) -> None:
    """The booking is cancelled: by whom, the fee kept, what is refunded and what released.

    The freelancer is told too; a cancellation because no card secured the
    booking in time is its own notice.
    """
    freelancer, context = _context(session, booking)
    context.update(
        fee_minor=fee_minor,
        refunded_minor=refunded_minor,
        released_minor=released_minor,
        by=by,
        reason=reason,
    )
    send_email(
        session,
        to=booking.client_email,
        subject=_l("Your session is cancelled: %(title)s", title=booking.title),
        template="booking_cancelled",
        context=context,
        locale=client_locale(booking),
        freelancer_id=freelancer.id,
        attachments=[
            _ics(
                booking,
                freelancer,
                context["manage_url"],
                cancelled=True,
                location=context["location"],
            )
        ],
    )
    automatic = reason == "not secured in time"
    notices.to_freelancer(
        session,
        freelancer.id,
        "booking_auto_cancelled" if automatic else "booking_cancelled",
        title=booking.title,
        client=f"{booking.client_name} <{booking.client_email}>",
        when_at=booking.start_at,
        zone=_freelancer_zone(session, freelancer.id),
        by=_by_whom(by, booking),
        fee_minor=fee_minor,
        refunded_minor=refunded_minor,
        released_minor=released_minor,
        currency=booking.currency,
        link_url=_freelancer_link(booking),
    )


def _by_whom(actor: str, booking: Booking) -> object:
    # Lazy: translated when the notice renders, in the freelancer's language.
    if actor == "client":
        return booking.client_name
    if actor.startswith("freelancer"):
        return _l("you")
    return _l("Acompte, automatically")


def _freelancer_zone(session: Session, freelancer_id: int) -> str:
    from sqlalchemy import select

    from webapp.booking.models import Availability

    zone = session.scalar(
        select(Availability.timezone).where(Availability.freelancer_id == freelancer_id)
    )
    return zone or "Europe/Paris"


def _freelancer_link(booking: Booking) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/bookings/{booking.id}"


def send_late_money_returned(session: Session, booking: Booking, *, kept_minor: int) -> None:
    """Money that arrived after the booking closed went back: tell the client how much."""
    plan = money_plan(session, booking)
    notices.to_client(
        session,
        booking.freelancer_id,
        "late_money_returned",
        to=booking.client_email,
        locale=booking.client_locale,
        booking=booking,
        title=booking.title,
        when_at=booking.start_at,
        zone=booking.client_timezone or "UTC",
        currency=booking.currency,
        fee_minor=kept_minor,
        refunded_minor=plan.refunded_minor,
        released_minor=plan.released_minor,
    )


def send_fix_card(session: Session, booking: Booking) -> None:
    """The hold before the session failed: ask the client to fix their card in time."""
    freelancer, context = _context(session, booking)
    context["deadline_at"] = booking.start_at - timedelta(hours=booking.secure_deadline_hours)
    send_email(
        session,
        to=booking.client_email,
        subject=_l("Action needed to keep your session: %(title)s", title=booking.title),
        template="booking_fix_card",
        context=context,
        locale=client_locale(booking),
        freelancer_id=freelancer.id,
    )
