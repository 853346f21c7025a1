"""The phases every Stripe write of `billing.payments` goes through.

Claim (mark the write in flight, under the locks), then — after the
caller's commit and the Stripe call — apply the answer, or record that it was
lost, or give up on a payment that never reached Stripe. See the
`billing.payments` docstring for why.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from billing import events
from billing.errors import GatewayRejected, NotAllowed
from billing.gateway.port import PaymentGateway, PaymentIntentResult
from billing.ledger import (
    AUTHORIZED,
    CANCELED,
    LEASE,
    REQUIRES_ACTION,
    InFlight,
    apply_result,
    finish_write,
    lapsed,
    lock_for_write,
    mark_in_flight,
    transition,
)
from billing.models import Payment


def same_account(gateway: PaymentGateway, payment: Payment) -> None:
    """Refuse a gateway for another Stripe account than the payment's."""
    # Money in flight stays on the account it was started on: a gateway with
    # other keys would not find its PaymentIntent, or would charge elsewhere.
    ref = getattr(gateway, "account_ref", None)
    if ref and payment.stripe_account and ref != payment.stripe_account:
        raise NotAllowed(
            f"payment {payment.id} belongs to another Stripe account than the one connected now"
        )


def claim(session: Session, payment: Payment, action: str, now: datetime) -> bool:
    """Mark `action` in flight (caller commits); True if an earlier one is in doubt."""
    if payment.in_flight is not None and not lapsed(payment, now):
        session.commit()
        raise InFlight(f"payment {payment.id}: a {payment.in_flight} is under way")
    in_doubt = (payment.in_flight or "").partition(":")[0] == action.partition(":")[0]
    mark_in_flight(payment, action, now)
    session.flush()
    return in_doubt


def apply_answer(
    session: Session,
    payment_id: int,
    result: PaymentIntentResult,
    now: datetime,
    actor: str,
    *,
    commit: bool = True,
) -> Payment:
    """Stripe answered: under the locks again, nothing in flight, its state applied."""
    payment = lock_for_write(session, payment_id)
    finish_write(payment)
    apply_result(session, payment, result, now=now, actor=actor)
    if commit:
        session.commit()
    return payment


def state_after_refusal(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    intent_id: str,
    refused: GatewayRejected,
) -> PaymentIntentResult:
    """Stripe's PaymentIntent after it refused a capture or cancel.

    If Stripe moved it (captured, cancelled, succeeded) that is the answer to
    apply; if it is just as we knew it, the refusal stands and is raised, the
    write no longer in flight.
    """
    result = gateway.retrieve_payment_intent(intent_id)
    payment = lock_for_write(session, payment_id)
    known = {AUTHORIZED: "requires_capture", REQUIRES_ACTION: "requires_action"}
    if known.get(payment.status) == result.status:
        finish_write(payment)
        session.commit()
        raise refused
    session.rollback()
    return result


def abandon(session: Session, payment_id: int, now: datetime) -> Payment:
    """An on-session payment that never reached Stripe, its client gone: cancelled."""
    payment = lock_for_write(session, payment_id)
    finish_write(payment)
    transition(session, payment, CANCELED, data={"reason": "never reached Stripe; client gone"})
    session.commit()
    return payment


def answer_lost(
    session: Session, payment_id: int, action: str, exc: Exception, now: datetime
) -> None:
    """Record a write whose answer was lost; it stays in flight, in doubt at once.

    This process is no longer waiting for it, so nobody is: the lease is
    backdated so that the next attempt (the client's retry or the sweep)
    looks Stripe up instead of waiting.
    """
    session.rollback()
    payment = lock_for_write(session, payment_id)
    # Keep the mark as claimed (a capture's amount travels with it).
    mark_in_flight(payment, payment.in_flight or action, now - LEASE)
    events.record(
        session,
        subject_type="payment",
        subject_id=payment.id,
        action="payment_outcome_unknown",
        freelancer_id=payment.freelancer_id,
        data={"write": action, "error": str(exc)},
    )
    session.commit()
