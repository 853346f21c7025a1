"""The use cases of sessions, one function each, for API routes, pages and due runners.

Re-exported by `webapp.booking.service`. Each takes the session and commits at
the points the ledger needs (a payment row is committed before Stripe is
called); errors are the service's named exceptions (`NotFound`, `SlotTaken`,
`InvalidRequest`, `PaymentFailed`) or billing's `NotAllowed`/`AlreadyDone`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy.orm import Session

from billing import checkout, events, payments
from billing.db import utcnow
from billing.errors import AlreadyDone, NotAllowed
from billing.gateway.port import PaymentGateway
from billing.models import PaymentCustomer
from billing.money import Money
from webapp.booking import emails, policies
from webapp.booking import service as svc
from webapp.booking.models import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    CONFIRMED,
    DEPOSIT,
    HOLD,
    NO_SHOW,
    PENDING_PAYMENT,
    REQUIRES_ACTION,
    Booking,
)
from webapp.booking.slots import window_of_days

# A securing payment in these states is resumed, never started again.
UNFINISHED = (payments.CREATED, payments.REQUIRES_ACTION, payments.PROCESSING)


def gateway_for(freelancer_id: int) -> PaymentGateway:
    """The Stripe gateway acting for the freelancer."""
    from webapp.stripe_connect import gateway

    return gateway(freelancer_id)


def _grace() -> timedelta:
    return svc.settings_grace(current_app.config)


def terms_in_words(terms: policies.Terms) -> dict[str, str]:
    """The policy and cancellation terms as a client reads them, before paying."""
    from flask_babel import gettext as _

    from billing.money import Money

    price = terms.price.format()
    if terms.policy == "prepay":
        payment = _("The full price (%(price)s) is charged when you book.", price=price)
    elif terms.policy == "hold":
        payment = _(
            "%(price)s is reserved on your card when you book and charged after the session.",
            price=price,
        )
    else:
        deposit = Money(policies.deposit_minor(terms), terms.currency).format()
        payment = _(
            "A deposit of %(deposit)s is charged when you book; the rest after the session.",
            deposit=deposit,
        )
    late = terms.price.percent(terms.late_cancel_fee_bp).format()
    no_show = terms.price.percent(terms.no_show_fee_bp).format()
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
    freelancer = svc.freelancer_by_slug(session, slug)
    from webapp.stripe_connect import credentials

    availability = svc.get_availability(session, freelancer)
    out = []
    for offering in svc.offerings(session, freelancer.id, active_only=True):
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
        "timezone": availability.timezone,
        "publishable_key": credentials(freelancer.id).publishable_key,
        "stripe_js_url": current_app.config.get("STRIPE_JS_URL"),
        "offerings": out,
    }


def public_slots(
    session: Session, slug: str, offering_id: int, first: date, last: date, tz: str
) -> list[dict]:
    """Free slots between two dates of the client's zone, rendered in that zone."""
    freelancer = svc.freelancer_by_slug(session, slug)
    offering = svc.get_offering(session, freelancer.id, offering_id)
    if not offering.active:
        raise svc.NotFound("offering not on sale")
    start, end = window_of_days(first, last, tz)
    zone = ZoneInfo(tz)
    return [
        {"start": s.start.astimezone(zone).isoformat(), "end": s.end.astimezone(zone).isoformat()}
        for s in svc.slots_for(session, freelancer, offering, start, end)
    ]


def book(session: Session, slug: str, data: dict, *, now: datetime | None = None) -> dict:
    """Claim a slot, then open the card setup; commits. `SlotTaken` when it is gone.

    The claim is its own short transaction, committed before Stripe is
    called. If Stripe then fails, the booking stays pending (it expires like
    an abandoned checkout) and the answer is 503 `payment_unavailable` (502
    `payment_error` for a refusal) with Retry-After and a top-level `booking`
    member: `{booking_id, status, manage_token, pending_expires_at}`; with it
    the client opens the card setup again (`POST /public/bookings/{id}/card-setup`)
    instead of booking its own slot a second time.
    """
    from billing.errors import GatewayUnavailable
    from webapp.errors import ApiError
    from webapp.stripe_connect import secret_box

    freelancer = svc.freelancer_by_slug(session, slug)
    gateway = gateway_for(freelancer.id)
    try:
        booking, token, secret = svc.create_booking(
            session, gateway, freelancer, data, token_box=secret_box(), now=now
        )
    except svc.ClaimedWithoutCard as failed:
        unavailable = isinstance(failed.error, GatewayUnavailable)
        raise ApiError(
            503 if unavailable else 502,
            "The booking is held but the payment service did not answer; "
            "ask for the card form again with the booking's manage token."
            if unavailable
            else f"The booking is held but the payment provider refused: {failed.error}",
            code="payment_unavailable" if unavailable else "payment_error",
            extra={
                "booking": _claimed(
                    failed.booking_id, failed.status, failed.token, failed.pending_expires_at
                )
            },
            headers={"Retry-After": "5"} if unavailable else None,
        ) from failed
    session.commit()
    return {
        **_claimed(booking.id, booking.status, token, booking.pending_expires_at),
        "setup_intent_client_secret": secret,
    }


def _claimed(booking_id: int, status: str, token: str, expires: datetime | None) -> dict:
    return {
        "booking_id": booking_id,
        "status": status,
        "manage_token": token,
        "pending_expires_at": expires.isoformat() if expires else None,
    }


def _unfinished(session: Session, booking: Booking) -> payments.Payment | None:
    """The booking's securing payment still under way (3-D Secure, processing, in doubt)."""
    for payment in reversed(svc.booking_payments(session, booking)):
        if payment.purpose in svc.SECURING and payment.status in UNFINISHED:
            return payment
    return None


def confirm(session: Session, booking_id: int, token: str, *, now: datetime | None = None) -> dict:
    """After the browser saved the card: hold or charge by policy; commits.

    Answers `{status: confirmed}` or `{status: requires_action,
    payment_intent_client_secret}`; call again after 3-D Secure. Also secures
    a confirmed booking again after its card was fixed. `PaymentFailed` for
    a decline (the booking keeps its slot until it expires; save another card).
    The first attempt is `checkout.start`; a payment already under way is only
    ever resumed (`checkout.resume`), never made twice.
    """
    now = now or utcnow()
    svc.booking_for_client(session, booking_id, token)
    booking = svc.lock_booking(session, booking_id)
    gateway = gateway_for(booking.freelancer_id)
    unfinished = _unfinished(session, booking)

    if booking.status == REQUIRES_ACTION:
        if unfinished is None:
            session.commit()
            return {"status": booking.status}
        return _answer(session, booking, checkout.resume(session, gateway, unfinished.id, now=now))

    # Confirmed: nothing to do, unless a far-away hold failed and the client
    # came back with a card (a card merely saved waits for its due hold).
    if booking.status == CONFIRMED and not (
        svc.hold_policy_unsecured(booking) and booking.payment_state == "failed"
    ):
        session.commit()
        return {"status": CONFIRMED}
    if booking.status not in (PENDING_PAYMENT, CONFIRMED):
        raise NotAllowed(f"this booking is {booking.status}")
    if booking.status == PENDING_PAYMENT and booking.pending_expires_at <= now:
        _expire(session, gateway, booking, now)
        session.commit()
        raise svc.Expired("the time held for this booking has run out")
    if unfinished is not None:
        # A previous confirm died before Stripe's answer was stored (or is
        # still processing): find out what Stripe made of it; never charge twice.
        return _answer(session, booking, checkout.resume(session, gateway, unfinished.id, now=now))
    try:
        svc.save_card(session, gateway, booking)
    except NotAllowed:
        session.commit()
        raise
    terms = svc.terms_of(booking)
    if booking.status == CONFIRMED:
        # A failed far-away hold, fixed by the client: place it now, with them present.
        plan = policies.ConfirmPlan(policies.HOLD_NOW, booking.amount_minor, "hold")
    else:
        plan = policies.confirm_plan(
            terms,
            start=booking.start_at,
            end=booking.end_at,
            now=now,
            grace=_grace(),
            hold_lead=svc.offering_hold_lead(session, booking),
        )
    if plan.kind == policies.CARD_ONLY:
        booking.hold_due_at = plan.hold_due_at
        svc.transition(
            session,
            booking,
            CONFIRMED,
            actor=events.CLIENT,
            secured="card_saved",
            hold_due_at=plan.hold_due_at.isoformat() if plan.hold_due_at else None,
        )
        booking.pending_expires_at = None
        svc.refresh_payment_state(session, booking)
        emails.send_confirmation(session, booking)
        session.commit()
        return {"status": CONFIRMED}
    customer = session.get(PaymentCustomer, booking.customer_id)
    assert customer is not None and booking.payment_method_id
    outcome = checkout.start(
        session,
        gateway,
        customer=customer,
        subject=svc.subject(booking),
        purpose=plan.purpose,
        amount=Money(plan.amount_minor, booking.currency),
        payment_method_id=booking.payment_method_id,
        capture_method="manual" if plan.kind == policies.HOLD_NOW else "automatic",
        now=now,
    )
    return _answer(session, booking, outcome)


def _answer(session: Session, booking: Booking, outcome: checkout.Outcome) -> dict:
    """The checkout's outcome as the booking API answers it; commits."""
    session.refresh(booking)
    session.commit()
    match outcome:
        case checkout.NeedsAction(client_secret=secret):
            return {"status": REQUIRES_ACTION, "payment_intent_client_secret": secret}
        case checkout.Failed() as failed if failed.authentication_failed:
            raise svc.PaymentFailed("The card authentication failed.", "authentication_failed")
        case checkout.Failed(code=code, message=message) if code != "canceled":
            raise svc.PaymentFailed(message, code)
    # Paid (the ledger confirmed the booking), released meanwhile, or still pending.
    return {"status": booking.status}


def client_view(
    session: Session, booking_id: int, token: str, *, now: datetime | None = None
) -> dict:
    """The booking as its client sees it, with the cancellation quote for now."""
    now = now or utcnow()
    booking = svc.booking_for_client(session, booking_id, token)
    from webapp.accounts.models import Freelancer

    freelancer = session.get(Freelancer, booking.freelancer_id)
    t = svc.totals(session, booking)
    terms = svc.terms_of(booking)
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
        "cancellation": svc.cancellation_quote(booking, now, t),
        "can_reschedule": booking.status in (PENDING_PAYMENT, CONFIRMED)
        and now <= policies.free_cancel_until(booking.start_at, terms),
        "needs_card": svc.hold_policy_unsecured(booking) and booking.payment_state == "failed",
        "pending_expires_at": booking.pending_expires_at.isoformat()
        if booking.pending_expires_at
        else None,
    }


def card_setup(session: Session, booking_id: int, token: str) -> dict:
    """A new SetupIntent to save another card (after a decline, or to fix a failed hold)."""
    booking = svc.booking_for_client(session, booking_id, token)
    booking = svc.lock_booking(session, booking.id)
    secret = svc.new_card_setup(session, gateway_for(booking.freelancer_id), booking)
    session.commit()
    return {"setup_intent_client_secret": secret}


def _close(
    session: Session,
    booking: Booking,
    new_status: str,
    target_minor: int,
    *,
    actor: str,
    reason: str,
    now: datetime,
    notify_client: bool,
) -> dict:
    """Settle the money to `target_minor`, move the booking, tell the client; commits."""
    gateway = gateway_for(booking.freelancer_id)
    if booking.status in (PENDING_PAYMENT, REQUIRES_ACTION):
        # Abandon an unfinished payment (3-D Secure left open) before closing;
        # one that succeeded meanwhile is settled below like any other money.
        booking = _abandon_unfinished(session, gateway, booking, now, actor=actor, reason=reason)
    # The booking ends first, so that money moved by the settlement (a fee kept
    # on a late cancellation or a no-show) is invoiced as what it is.
    svc.transition(session, booking, new_status, actor=actor, target_minor=target_minor)
    to_execute = svc.settle(
        session, gateway, booking, target_minor, now=now, actor=actor, reason=reason
    )
    svc.refresh_payment_state(session, booking)
    session.commit()
    if to_execute:
        svc.execute(session, gateway, to_execute, now)
        svc.refresh_payment_state(session, booking)
    t = svc.totals(session, booking)
    if notify_client and new_status == CANCELLED:
        emails.send_cancellation(
            session,
            booking,
            fee_minor=t.captured_minor,
            refunded_minor=t.refunded_minor,
            by=actor,
        )
    session.commit()
    return _closed_answer(session, booking)


def _closed_answer(session: Session, booking: Booking) -> dict:
    t = svc.totals(session, booking)
    return {
        "status": booking.status,
        "fee_amount_minor": t.captured_minor,
        "refunded_amount_minor": t.refunded_minor,
        "released_amount_minor": t.released_minor,
        "payment_state": booking.payment_state,
        "currency": booking.currency,
    }


def cancel_by_client(
    session: Session, booking_id: int, token: str, *, now: datetime | None = None
) -> dict:
    """Client cancellation through the manage link: free in time, else the late fee."""
    now = now or utcnow()
    svc.booking_for_client(session, booking_id, token)
    booking = svc.lock_booking(session, booking_id)
    if booking.status == CANCELLED:
        session.commit()
        return _closed_answer(session, booking)
    if booking.status not in ACTIVE:
        raise NotAllowed(f"this booking is {booking.status}")
    if now >= booking.start_at:
        raise NotAllowed("the session has started; it can no longer be cancelled")
    fee = svc.cancellation_quote(booking, now)["fee_amount_minor"]
    return _close(
        session,
        booking,
        CANCELLED,
        fee,
        actor=events.CLIENT,
        reason="late cancellation" if fee else "cancelled in time",
        now=now,
        notify_client=True,
    )


def cancel_by_freelancer(
    session: Session, freelancer_id: int, booking_id: int, *, now: datetime | None = None
) -> dict:
    """The freelancer cancels: everything is released or refunded to the client."""
    now = now or utcnow()
    svc.get_booking(session, freelancer_id, booking_id)
    booking = svc.lock_booking(session, booking_id)
    if booking.status == CANCELLED:
        raise AlreadyDone("already cancelled")
    return _close(
        session,
        booking,
        CANCELLED,
        0,
        actor=events.freelancer_actor(freelancer_id),
        reason="cancelled by the freelancer",
        now=now,
        notify_client=True,
    )


def _started(booking: Booking, now: datetime) -> None:
    if booking.status != CONFIRMED:
        if booking.status in (COMPLETED, NO_SHOW):
            raise AlreadyDone(f"already {booking.status}")
        raise NotAllowed(f"this booking is {booking.status}")
    if now < booking.start_at:
        raise NotAllowed("the session has not started yet")


def complete(
    session: Session, freelancer_id: int, booking_id: int, *, now: datetime | None = None
) -> dict:
    """Mark completed (early): the full price is collected now."""
    now = now or utcnow()
    svc.get_booking(session, freelancer_id, booking_id)
    booking = svc.lock_booking(session, booking_id)
    _started(booking, now)
    return _close(
        session,
        booking,
        COMPLETED,
        booking.amount_minor,
        actor=events.freelancer_actor(freelancer_id),
        reason="session completed",
        now=now,
        notify_client=False,
    )


def mark_no_show(
    session: Session, freelancer_id: int, booking_id: int, *, now: datetime | None = None
) -> dict:
    """The client did not come: the no-show fee is kept, the rest released or refunded."""
    now = now or utcnow()
    svc.get_booking(session, freelancer_id, booking_id)
    booking = svc.lock_booking(session, booking_id)
    _started(booking, now)
    return _close(
        session,
        booking,
        NO_SHOW,
        policies.no_show_fee(svc.terms_of(booking)),
        actor=events.freelancer_actor(freelancer_id),
        reason="no-show",
        now=now,
        notify_client=False,
    )


def reschedule(
    session: Session, booking_id: int, token: str, start: datetime, *, now: datetime | None = None
) -> dict:
    """Move to another free slot without paying twice; only while cancelling is still free."""
    now = now or utcnow()
    svc.booking_for_client(session, booking_id, token)
    booking = svc.lock_booking(session, booking_id)
    if booking.status not in (PENDING_PAYMENT, CONFIRMED):
        raise NotAllowed(f"this booking is {booking.status}")
    terms = svc.terms_of(booking)
    if now > policies.free_cancel_until(booking.start_at, terms):
        raise NotAllowed("too late to reschedule; the cancellation terms apply")
    from webapp.accounts.models import Freelancer
    from webapp.booking.models import Offering

    freelancer = session.get(Freelancer, booking.freelancer_id)
    offering = session.get(Offering, booking.offering_id)
    svc._serialise_writers(session, booking.freelancer_id)
    slot = svc._offered_slot(
        session, freelancer, offering, start, now, exclude_booking_id=booking.id
    )
    old_start = booking.start_at
    try:
        with session.begin_nested():
            booking.start_at, booking.end_at = slot.start, slot.end
            booking.block_start, booking.block_end = slot.block_start, slot.block_end
            booking.reschedule_count += 1
            session.flush()
    except Exception as exc:
        if "booking_no_overlap" in str(exc):
            raise svc.SlotTaken("slot taken") from None
        raise
    svc.record(
        session,
        booking,
        "booking_rescheduled",
        events.CLIENT,
        **{"from": old_start.isoformat(), "to": slot.start.isoformat()},
    )
    gateway = gateway_for(booking.freelancer_id)
    if booking.status == CONFIRMED and booking.payment_policy == HOLD:
        _rearrange_hold(session, gateway, booking, now)
    if booking.status == CONFIRMED:
        emails.send_confirmation(session, booking, rescheduled=True)
    session.commit()
    return {
        "status": booking.status,
        "start": booking.start_at.isoformat(),
        "end": booking.end_at.isoformat(),
    }


def _rearrange_hold(
    session: Session, gateway: PaymentGateway, booking: Booking, now: datetime
) -> None:
    # A hold that would lapse before the new end is released; the saved card
    # is held again shortly before the new date (by the due runner).
    grace = _grace()
    lead = svc.offering_hold_lead(session, booking)
    t = svc.totals(session, booking)
    for hold in t.held:
        if hold.expires_at is not None and hold.expires_at <= booking.end_at + grace:
            payments.release(session, gateway, hold.payment_id, now=now, reason="rescheduled")
    booking.hold_due_at = policies.hold_due_at(
        booking.start_at, booking.end_at, hold_lead=lead, grace=grace
    )
    session.flush()
    svc.refresh_payment_state(session, booking)


def _abandon_unfinished(
    session: Session, gateway: PaymentGateway, booking: Booking, now: datetime, **kw: str
) -> Booking:
    """Cancel the booking's unfinished payments at Stripe; the booking, locked again.

    Stripe may answer that one succeeded meanwhile (3-D Secure completed, its
    webhook not here yet): it is then recorded, and the booking confirmed by
    the ledger, before the caller decides what to do.
    """
    booking_id = booking.id
    for payment in svc.booking_payments(session, booking):
        if payment.status in (payments.REQUIRES_ACTION, payments.CREATED, payments.PROCESSING):
            try:
                payments.release(session, gateway, payment.id, now=now, **kw)
            except payments.InFlight:
                raise
            except AlreadyDone:
                continue
    return svc.lock_booking(session, booking_id)


def _expire(session: Session, gateway: PaymentGateway, booking: Booking, now: datetime) -> None:
    booking = _abandon_unfinished(session, gateway, booking, now, reason="booking expired")
    if booking.status not in (PENDING_PAYMENT, REQUIRES_ACTION):
        # Paid after all: the slot was still held for it, so the booking stands.
        return
    svc.transition(session, booking, "expired", actor=events.SYSTEM, target_minor=0)
    svc.refresh_payment_state(session, booking)


def expire(session: Session, booking_id: int, now: datetime) -> bool:
    """Free the slot of a pending booking whose 15 minutes have passed; commits."""
    booking = svc.lock_booking(session, booking_id)
    if booking.status not in (PENDING_PAYMENT, REQUIRES_ACTION) or (
        booking.pending_expires_at is None or booking.pending_expires_at > now
    ):
        session.rollback()
        return False
    try:
        _expire(session, gateway_for(booking.freelancer_id), booking, now)
    except payments.InFlight:
        # The client is paying right now: decide on the next run.
        session.rollback()
        return False
    session.commit()
    return booking.status == "expired"


def settle_late(session: Session, booking_id: int, now: datetime) -> str | None:
    """Give back money that arrived after the booking closed (down to its fee); commits."""
    booking = svc.lock_booking(session, booking_id)
    if not booking.settle_due:
        session.rollback()
        return None
    target = booking.settle_target_minor or 0
    gateway = gateway_for(booking.freelancer_id)
    to_execute = svc.settle(
        session, gateway, booking, target, now=now, actor=events.SYSTEM, reason="paid after closing"
    )
    booking = svc.lock_booking(session, booking_id)
    booking.settle_due = False
    svc.refresh_payment_state(session, booking)
    session.commit()
    if to_execute:
        svc.execute(session, gateway, to_execute, now)
    t = svc.totals(session, booking)
    return f"booking {booking.id}: late payment settled, {t.captured_minor} kept"


def place_hold(session: Session, booking_id: int, now: datetime) -> str | None:
    """Place the off-session hold of a far-away session when it is due; commits."""
    booking = svc.lock_booking(session, booking_id)
    if not (
        booking.status == CONFIRMED
        and booking.payment_policy == HOLD
        and booking.payment_state == "card_saved"
        and booking.hold_due_at is not None
        and booking.hold_due_at <= now
    ):
        session.rollback()
        return None
    gateway = gateway_for(booking.freelancer_id)
    payment = svc._prepare(session, booking, booking.amount_minor, "hold", "manual", True)
    session.commit()
    svc.execute(session, gateway, [payment.id], now)
    session.refresh(payment)
    if payment.status == payments.FAILED:
        emails.send_fix_card(session, booking)
        svc.record(session, booking, "fix_card_requested", events.SYSTEM, payment_id=payment.id)
    session.commit()
    return f"booking {booking.id}: hold {payment.status}"


def cancel_unsecured(session: Session, booking_id: int, now: datetime) -> str | None:
    """Cancel a `hold` booking not secured by its deadline before the start; commits."""
    booking = svc.lock_booking(session, booking_id)
    deadline = booking.start_at - timedelta(hours=booking.secure_deadline_hours)
    if not (svc.hold_policy_unsecured(booking) and now >= deadline):
        session.rollback()
        return None
    _close(
        session,
        booking,
        CANCELLED,
        0,
        actor=events.SYSTEM,
        reason="not secured in time",
        now=now,
        notify_client=True,
    )
    return f"booking {booking.id}: cancelled, card not secured by {deadline.isoformat()}"


def collect(session: Session, booking_id: int, now: datetime) -> str | None:
    """After the session's end plus grace: capture the hold or charge the balance; commits."""
    booking = svc.lock_booking(session, booking_id)
    if booking.status != CONFIRMED or booking.end_at + _grace() > now:
        session.rollback()
        return None
    answer = _close(
        session,
        booking,
        COMPLETED,
        booking.amount_minor,
        actor=events.SYSTEM,
        reason="session completed",
        now=now,
        notify_client=False,
    )
    return f"booking {booking.id}: completed, {answer['payment_state']}"
