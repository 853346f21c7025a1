"""Settlement: leave exactly the amount a booking's terms say with the freelancer.

`settle` plans captures, releases, refunds and a missing charge from the
ledger's totals (`policies.settle_steps`); `cancellation_quote` says what a
client cancellation would cost before they confirm; `abandon_unfinished`
and `expire_pending` give up on a payment the client left open. The billing
writes used here COMMIT around their Stripe call (`billing.payments`), so the
booking's lock is never held while Stripe answers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from billing import checkout, events, payments
from billing.errors import AlreadyDone
from billing.gateway.port import PaymentGateway
from billing.models import Payment, PaymentCustomer
from billing.money import Money
from webapp.booking import policies
from webapp.booking.ledger import Totals, booking_payments, refresh_payment_state, totals
from webapp.booking.lifecycle import (
    lock_booking,
    record,
    subject,
    terms_of,
    transition,
)
from webapp.booking.models import ACTIVE, EXPIRED, PENDING_PAYMENT, REQUIRES_ACTION, Booking


def settle(
    session: Session,
    gateway: PaymentGateway,
    booking: Booking,
    target_minor: int,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> list[int]:
    """Leave exactly `target_minor` with the freelancer; returns payments to execute.

    Captures, releases and refunds happen now (each under the payment's lock
    with its idempotency key). A missing amount becomes an off-session charge
    that is only *prepared*: the caller commits, then runs `execute`.
    """
    t = totals(session, booking)
    to_execute: list[int] = []
    for step in policies.settle_steps(target_minor, t.held, t.collected, now):
        if step.action == "capture":
            payments.capture(
                session,
                gateway,
                step.payment_id,
                amount_minor=step.amount_minor,
                now=now,
                actor=actor,
            )
        elif step.action == "release":
            payments.release(session, gateway, step.payment_id, now=now, actor=actor, reason=reason)
        elif step.action == "refund":
            # The credit note follows from the ledger (`on_refund`), here or
            # in the sweep when Stripe's answer was lost.
            payments.refund(
                session,
                gateway,
                step.payment_id,
                amount_minor=step.amount_minor,
                reason=reason,
                actor=actor,
            )
        elif policies.below_minimum(step.amount_minor, booking.currency):
            record(
                session,
                booking,
                "charge_waived_below_minimum",
                actor,
                amount_minor=step.amount_minor,
            )
        elif not booking.payment_method_id:
            record(
                session, booking, "charge_impossible_no_card", actor, amount_minor=step.amount_minor
            )
        else:
            payment = prepare(session, booking, step.amount_minor, "balance", "automatic", True)
            to_execute.append(payment.id)
    # Released holds/refunds notify through the ledger; refunds alone do not.
    refresh_payment_state(session, booking)
    return to_execute


def prepare(
    session: Session,
    booking: Booking,
    amount_minor: int,
    purpose: str,
    capture_method: str,
    off_session: bool,
) -> Payment:
    """A payment of the booking on its saved card, prepared (flushed) for `execute`."""
    customer = session.get(PaymentCustomer, booking.customer_id)
    assert customer is not None and booking.payment_method_id
    return payments.prepare_payment(
        session,
        customer=customer,
        subject=subject(booking),
        purpose=purpose,
        amount=Money(amount_minor, booking.currency),
        payment_method_id=booking.payment_method_id,
        capture_method=capture_method,  # type: ignore[arg-type]
        off_session=off_session,
    )


def execute(
    session: Session, gateway: PaymentGateway, payment_ids: list[int], now: datetime
) -> None:
    """Run prepared payments (after their rows were committed); declines are outcomes."""
    for payment_id in payment_ids:
        try:
            payments.execute_payment(session, gateway, payment_id, now=now)
        except AlreadyDone:
            continue


def cancellation_quote(booking: Booking, now: datetime, t: Totals | None = None) -> dict:
    """What a client cancellation would cost right now, before they confirm it.

    `refund_amount_minor`: charged money that goes back; `release_amount_minor`:
    held money that is freed; the fee is kept (from the hold, the charge, or
    charged to the saved card when nothing covers it).
    """
    terms = terms_of(booking)
    if booking.status in (PENDING_PAYMENT, REQUIRES_ACTION):
        fee = 0
    else:
        fee = policies.cancellation_fee(terms, booking.start_at, now)
    if t is None:
        return {
            "fee_amount_minor": fee,
            "currency": booking.currency,
            "free_until": policies.free_cancel_until(booking.start_at, terms).isoformat(),
            "is_free": fee == 0,
            "allowed": booking.status in ACTIVE and now < booking.start_at,
        }
    from_charges = min(fee, t.captured_minor)
    from_hold = min(fee - from_charges, t.secured_minor)
    return {
        "fee_amount_minor": fee,
        "currency": booking.currency,
        "refund_amount_minor": t.captured_minor - from_charges,
        "release_amount_minor": t.secured_minor - from_hold,
        "free_until": policies.free_cancel_until(booking.start_at, terms).isoformat(),
        "is_free": fee == 0,
        "allowed": booking.status in ACTIVE and now < booking.start_at,
    }


def abandon_unfinished(
    session: Session, gateway: PaymentGateway, booking: Booking, now: datetime, **kw: str
) -> Booking:
    """Cancel the booking's unfinished payments at Stripe; the booking, locked again.

    Stripe may answer that one succeeded meanwhile (3-D Secure completed, its
    webhook not here yet): it is then recorded, and the booking confirmed by
    the ledger, before the caller decides what to do.
    """
    booking_id = booking.id
    for payment in booking_payments(session, booking):
        if payment.status in checkout.UNFINISHED:
            try:
                payments.release(session, gateway, payment.id, now=now, **kw)
            except payments.InFlight:
                raise
            except AlreadyDone:
                continue
    return lock_booking(session, booking_id)


def expire_pending(
    session: Session, gateway: PaymentGateway, booking: Booking, now: datetime
) -> None:
    """Close a pending booking whose time ran out, unless Stripe says it was paid meanwhile."""
    booking = abandon_unfinished(session, gateway, booking, now, reason="booking expired")
    if booking.status not in (PENDING_PAYMENT, REQUIRES_ACTION):
        # Paid after all: the slot was still held for it, so the booking stands.
        return
    transition(session, booking, EXPIRED, actor=events.SYSTEM, target_minor=0)
    refresh_payment_state(session, booking)
