"""The client's checkout: claim a slot, save a card, then charge or hold it by policy.

`book` claims the slot and opens the card form; `confirm` secures the
booking once the browser saved the card (through `billing.checkout`: paid,
3-D Secure to complete, or failed); `card_setup` opens another card form.
Each commits. Stripe is never called while the booking is locked: the saved
card is read first, then the booking is locked and its state checked again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from billing import checkout, events, payments
from billing.db import utcnow
from billing.errors import CardError, GatewayUnavailable, NotAllowed
from billing.gateway.port import PaymentGateway
from billing.models import PaymentCustomer
from billing.money import Money
from webapp.booking import emails, policies
from webapp.booking.card import (
    CardRead,
    card_on_file,
    give_card,
    new_card_setup,
    read_saved_card,
    take_saved_card,
)
from webapp.booking.claim import create_booking
from webapp.booking.errors import ClaimedWithoutCard, Expired, PaymentFailed
from webapp.booking.ledger import booking_payments, refresh_payment_state
from webapp.booking.lifecycle import (
    SECURING,
    booking_for_client,
    gateway_for,
    grace,
    hold_policy_unsecured,
    lock_booking,
    offering_hold_lead,
    subject,
    terms_of,
    transition,
)
from webapp.booking.models import CONFIRMED, PENDING_PAYMENT, REQUIRES_ACTION, Booking
from webapp.booking.service import freelancer_by_slug
from webapp.booking.settlement import expire_pending
from webapp.errors import ApiError
from webapp.stripe_connect import secret_box


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
    freelancer = freelancer_by_slug(session, slug)
    gateway = gateway_for(freelancer.id)
    try:
        booking, token, secret = create_booking(
            session, gateway, freelancer, data, token_box=secret_box(), now=now
        )
    except ClaimedWithoutCard as failed:
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
        "card_step": card_step(session, booking, now or utcnow()),
    }


def card_step(session: Session, booking: Booking, now: datetime) -> str:
    """How the page takes the card: `payment` when money moves at once (a PaymentMethod
    sent with `confirm`, one 3-D Secure), `setup` when the card is only saved (SetupIntent)."""
    return SETUP_STEP if _plan(session, booking, now).kind == policies.CARD_ONLY else PAYMENT_STEP


PAYMENT_STEP, SETUP_STEP = "payment", "setup"


def _claimed(booking_id: int, status: str, token: str, expires: datetime | None) -> dict:
    return {
        "booking_id": booking_id,
        "status": status,
        "manage_token": token,
        "pending_expires_at": expires.isoformat() if expires else None,
    }


def _unfinished(session: Session, booking: Booking) -> payments.Payment | None:
    """The booking's securing payment still under way (3-D Secure, processing, in doubt)."""
    for payment in reversed(booking_payments(session, booking)):
        if payment.purpose in SECURING and payment.status in checkout.UNFINISHED:
            return payment
    return None


# What `confirm` does next for a booking in its present state.
DONE, RESUME, REFUSE, EXPIRE, SECURE = "done", "resume", "refuse", "expire", "secure"


def _next_step(
    session: Session, booking: Booking, now: datetime
) -> tuple[str, payments.Payment | None]:
    unfinished = _unfinished(session, booking)
    if booking.status == REQUIRES_ACTION:
        return (RESUME, unfinished) if unfinished is not None else (DONE, None)
    # Confirmed: nothing to do, unless a far-away hold failed and the client
    # came back with a card (a card merely saved waits for its due hold).
    if booking.status == CONFIRMED and not (
        hold_policy_unsecured(booking) and booking.payment_state == "failed"
    ):
        return DONE, None
    if booking.status not in (PENDING_PAYMENT, CONFIRMED):
        return REFUSE, None
    if booking.status == PENDING_PAYMENT and booking.pending_expires_at <= now:
        return EXPIRE, None
    if unfinished is not None:
        # A previous confirm died before Stripe's answer was stored (or is
        # still processing): find out what Stripe made of it; never charge twice.
        return RESUME, unfinished
    return SECURE, None


def _locked_with_card(
    session: Session, gateway: PaymentGateway, booking: Booking, now: datetime
) -> tuple[Booking, str, payments.Payment | None, CardRead | None]:
    """The booking locked, its next step, and the saved card read from Stripe *before* the lock.

    The card is read only when the step needs it. If the booking moved between
    the unlocked look and the lock so that it now needs a card nobody read
    (a 3-D Secure payment failed meanwhile, another card form was opened),
    the lock is let go, the card read, and the booking locked again, once.
    """
    read: CardRead | None = None
    for attempt in range(2):
        if booking.card_setup_id is not None and (
            attempt > 0 or _next_step(session, booking, now)[0] == SECURE
        ):
            read = read_saved_card(session, gateway, booking)
        booking = lock_booking(session, booking.id)
        step, unfinished = _next_step(session, booking, now)
        if (
            step != SECURE
            or attempt > 0
            or booking.card_setup_id is None
            or (read is not None and read.card_setup_id == booking.card_setup_id)
            or card_on_file(session, booking) is not None
        ):
            return booking, step, unfinished, read
        session.commit()
    raise AssertionError("unreachable")  # pragma: no cover


def confirm(
    session: Session,
    booking_id: int,
    token: str,
    *,
    payment_method_id: str | None = None,
    now: datetime | None = None,
) -> dict:
    """After the browser saved the card (or with the card it made): hold or charge; commits.

    Answers `{status: confirmed}` or `{status: requires_action,
    payment_intent_client_secret}`; call again after 3-D Secure. Also secures
    a confirmed booking again after its card was fixed. `PaymentFailed` for
    a decline (the booking keeps its slot until it expires; save another card).
    The first attempt is `checkout.start`; a payment already under way is only
    ever resumed (`checkout.resume`), never made twice. `payment_method_id`
    (`card_step` `payment`): the card is attached and charged with
    `setup_future_usage`, so its 3-D Secure is asked once; ignored when the
    booking is not waiting for a card (a call again after 3-D Secure).
    """
    now = now or utcnow()
    booking = booking_for_client(session, booking_id, token)
    gateway = gateway_for(booking.freelancer_id)
    if payment_method_id is not None and _next_step(session, booking, now)[0] == SECURE:
        if _plan(session, booking, now).kind == policies.CARD_ONLY:
            session.commit()
            raise NotAllowed(
                "nothing is charged now for this booking: save the card with the card form "
                "(setup_intent_client_secret) instead"
            )
        try:
            booking = give_card(session, gateway, booking, payment_method_id)
        except CardError as declined:
            session.rollback()
            raise PaymentFailed(str(declined), declined.decline_code or "card_declined") from None
    booking, step, unfinished, read = _locked_with_card(session, gateway, booking, now)
    if step == DONE:
        session.commit()
        return {"status": booking.status}
    if step == RESUME:
        assert unfinished is not None
        return _answer(session, booking, checkout.resume(session, gateway, unfinished.id, now=now))
    if step == REFUSE:
        raise NotAllowed(f"this booking is {booking.status}")
    if step == EXPIRE:
        expire_pending(session, gateway, booking, now)
        session.commit()
        raise Expired("the time held for this booking has run out")
    try:
        take_saved_card(session, booking, read or CardRead(None))
    except NotAllowed:
        session.commit()
        raise
    return _secure(session, gateway, booking, now)


def _secure(session: Session, gateway: PaymentGateway, booking: Booking, now: datetime) -> dict:
    """The booking is locked and its card saved: hold or charge it by policy; commits."""
    plan = _plan(session, booking, now)
    if plan.kind == policies.CARD_ONLY:
        booking.hold_due_at = plan.hold_due_at
        transition(
            session,
            booking,
            CONFIRMED,
            actor=events.CLIENT,
            secured="card_saved",
            hold_due_at=plan.hold_due_at.isoformat() if plan.hold_due_at else None,
        )
        booking.pending_expires_at = None
        refresh_payment_state(session, booking)
        emails.send_confirmation(session, booking)
        session.commit()
        return {"status": CONFIRMED}
    customer = session.get(PaymentCustomer, booking.customer_id)
    assert customer is not None and booking.payment_method_id
    outcome = checkout.start(
        session,
        gateway,
        customer=customer,
        subject=subject(booking),
        purpose=plan.purpose,
        amount=Money(plan.amount_minor, booking.currency),
        payment_method_id=booking.payment_method_id,
        capture_method="manual" if plan.kind == policies.HOLD_NOW else "automatic",
        now=now,
        # A card given with the payment is saved by it for the later charges.
        setup_future_usage=checkout.future_usage(card_on_file(session, booking)),
    )
    return _answer(session, booking, outcome)


def _plan(session: Session, booking: Booking, now: datetime) -> policies.ConfirmPlan:
    """What securing the booking does now: charge, hold, or only keep the card."""
    if booking.status == CONFIRMED:
        # A failed far-away hold, fixed by the client: place it now, with them present.
        return policies.ConfirmPlan(policies.HOLD_NOW, booking.amount_minor, "hold")
    return policies.confirm_plan(
        terms_of(booking),
        start=booking.start_at,
        end=booking.end_at,
        now=now,
        grace=grace(),
        hold_lead=offering_hold_lead(session, booking),
    )


def _answer(session: Session, booking: Booking, outcome: checkout.Outcome) -> dict:
    """The checkout's outcome as the booking API answers it; commits."""
    session.refresh(booking)
    session.commit()
    match outcome:
        case checkout.NeedsAction(client_secret=secret):
            return {"status": REQUIRES_ACTION, "payment_intent_client_secret": secret}
        case checkout.Failed() as failed if failed.authentication_failed:
            raise PaymentFailed("The card authentication failed.", "authentication_failed")
        case checkout.Failed(code=code, message=message) if code != "canceled":
            raise PaymentFailed(message, code)
    # Paid (the ledger confirmed the booking), released meanwhile, or still pending.
    return {"status": booking.status}


def card_setup(session: Session, booking_id: int, token: str) -> dict:
    """A new SetupIntent to save another card (after a decline, or to fix a failed hold).

    Stripe is called with the booking unlocked; `new_card_setup` locks it
    afterwards to check it is still open and point it at the new card form.
    """
    booking = booking_for_client(session, booking_id, token)
    secret = new_card_setup(session, gateway_for(booking.freelancer_id), booking)
    session.commit()
    return {
        "setup_intent_client_secret": secret,
        "card_step": card_step(session, booking, utcnow()),
    }
