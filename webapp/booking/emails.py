"""E-mails to a booking's client: confirmation (.ics, manage link), cancellation, fix my card."""

from __future__ import annotations

import base64
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing.db import utcnow
from billing.money import Money
from webapp.accounts.models import Freelancer
from webapp.booking import ics
from webapp.booking.models import Booking
from webapp.mail.service import send_email


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
    zone = ZoneInfo(booking.client_timezone or "UTC")
    context = {
        "booking": booking,
        "freelancer": freelancer,
        "manage_url": manage_url(booking),
        "start_local": booking.start_at.astimezone(zone),
        "end_local": booking.end_at.astimezone(zone),
        "zone": booking.client_timezone or "UTC",
        "price": Money(booking.amount_minor, booking.currency).format(),
    }
    return freelancer, context


def _ics(booking: Booking, freelancer: Freelancer, url: str, *, cancelled: bool) -> dict:
    data = ics.invitation(
        booking,
        organizer_name=freelancer.display_name,
        organizer_email=freelancer.email,
        manage_url=url,
        now=utcnow(),
        cancelled=cancelled,
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
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
        attachments=[_ics(booking, freelancer, context["manage_url"], cancelled=False)],
    )


def send_cancellation(
    session: Session, booking: Booking, *, fee_minor: int, refunded_minor: int, by: str
) -> None:
    """The booking is cancelled: by whom, the fee kept and what goes back to the card."""
    freelancer, context = _context(session, booking)
    context.update(
        fee=Money(fee_minor, booking.currency).format(),
        fee_minor=fee_minor,
        refunded=Money(refunded_minor, booking.currency).format(),
        by=by,
    )
    send_email(
        session,
        to=booking.client_email,
        subject=_l("Your session is cancelled: %(title)s", title=booking.title),
        template="booking_cancelled",
        context=context,
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
        attachments=[_ics(booking, freelancer, context["manage_url"], cancelled=True)],
    )


def send_fix_card(session: Session, booking: Booking) -> None:
    """The hold before the session failed: ask the client to fix their card in time."""
    freelancer, context = _context(session, booking)
    deadline = booking.start_at.astimezone(ZoneInfo(context["zone"]))
    from datetime import timedelta

    context["deadline_local"] = deadline - timedelta(hours=booking.secure_deadline_hours)
    send_email(
        session,
        to=booking.client_email,
        subject=_l("Action needed to keep your session: %(title)s", title=booking.title),
        template="booking_fix_card",
        context=context,
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )
