"""The payment ledger: charges and holds with a saved card, for every feature.

Sessions, quotes and paid messages all move money through these functions,
so the mechanics (idempotency, locks, expiry of holds, failures) exist once.

Crash safety. `prepare_payment` writes the row and the caller commits it
*before* `execute_payment` calls Stripe. Every Stripe write carries a key
derived from that committed row (`acompte:payment:<id>:<attempt>:create`,
`…:capture`, `…:cancel`, `…:refund:<n>`). If the process dies between
Stripe's answer and our commit, the row is still `created` (or still
`authorized`…); `reconcile` repeats the call with the same key and Stripe
answers with the original object instead of charging again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import events, outcomes
from billing.db import utcnow
from billing.errors import AlreadyDone, GatewayRejected, GatewayUnavailable, NotAllowed
from billing.gateway import port
from billing.gateway.port import CaptureMethod, PaymentGateway, PaymentIntentResult
from billing.locking import lock
from billing.models import Payment, PaymentCustomer, Refund
from billing.money import Money

# Our statuses.
CREATED = "created"  # row committed, Stripe not called yet (or outcome unknown)
REQUIRES_ACTION = "requires_action"  # 3-D Secure to complete in the browser
PROCESSING = "processing"
AUTHORIZED = "authorized"  # a hold: money reserved, not captured
SUCCEEDED = "succeeded"  # money captured
FAILED = "failed"  # declined or authentication failed; a retry is a new payment
CANCELED = "canceled"  # hold released, or abandoned before confirmation

TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELED})

# Allowed transitions; anything else is refused (or ignored when it is a stale
# webhook). One table, read by every operation.
TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: frozenset({REQUIRES_ACTION, PROCESSING, AUTHORIZED, SUCCEEDED, FAILED, CANCELED}),
    REQUIRES_ACTION: frozenset({PROCESSING, AUTHORIZED, SUCCEEDED, FAILED, CANCELED}),
    PROCESSING: frozenset({AUTHORIZED, SUCCEEDED, FAILED, CANCELED}),
    AUTHORIZED: frozenset({SUCCEEDED, CANCELED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    CANCELED: frozenset(),
}

_FROM_STRIPE = {
    port.REQUIRES_ACTION: REQUIRES_ACTION,
    port.REQUIRES_CONFIRMATION: REQUIRES_ACTION,
    port.PROCESSING: PROCESSING,
    port.REQUIRES_CAPTURE: AUTHORIZED,
    port.SUCCEEDED: SUCCEEDED,
    port.CANCELED: CANCELED,
    port.REQUIRES_PAYMENT_METHOD: FAILED,
}

# Card authorisations lapse after about 7 days; Visa merchant-initiated ones
# (off-session) sooner. Capture well inside these windows, never after.
HOLD_WINDOW_ON_SESSION = timedelta(days=6, hours=12)
HOLD_WINDOW_OFF_SESSION = timedelta(days=4, hours=12)


@dataclass(frozen=True, slots=True)
class Subject:
    """What a payment is for: ("booking", 12), ("milestone", 7), ("message", 3)…"""

    type: str
    id: int | str


def transition(
    session: Session, payment: Payment, new_status: str, *, actor: str, data: dict | None = None
) -> bool:
    """Move `payment` to `new_status` if allowed; record the event; notify the subject.

    Returns False (and changes nothing) when already there; raises `NotAllowed`
    for a move the table forbids.
    """
    old = payment.status
    if new_status == old:
        return False
    if new_status not in TRANSITIONS[old]:
        raise NotAllowed(f"payment {payment.id}: {old} → {new_status} is not allowed")
    payment.status = new_status
    session.flush()
    events.record(
        session,
        subject_type="payment",
        subject_id=payment.id,
        action=f"payment_{new_status}",
        actor=actor,
        freelancer_id=payment.freelancer_id,
        data={
            "from": old,
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            **(data or {}),
        },
    )
    outcomes.notify(session, payment, old, new_status)
    return True


def idempotency_key(payment: Payment, action: str) -> str:
    """The Stripe idempotency key of one write on this payment."""
    return f"acompte:payment:{payment.id}:{payment.attempt}:{action}"


def prepare_payment(
    session: Session,
    *,
    customer: PaymentCustomer,
    subject: Subject,
    purpose: str,
    amount: Money,
    payment_method_id: str,
    capture_method: CaptureMethod,
    off_session: bool,
    actor: str = events.SYSTEM,
) -> Payment:
    """Write a payment row in `created`; the caller commits before `execute_payment`."""
    if amount.amount_minor <= 0:
        raise NotAllowed("a payment needs a positive amount")
    attempt = 1 + (
        session.scalar(
            select(func.count(Payment.id)).where(
                Payment.subject_type == subject.type,
                Payment.subject_id == str(subject.id),
                Payment.purpose == purpose,
            )
        )
        or 0
    )
    payment = Payment(
        freelancer_id=customer.freelancer_id,
        customer_id=customer.id,
        subject_type=subject.type,
        subject_id=str(subject.id),
        purpose=purpose,
        amount_minor=amount.amount_minor,
        currency=amount.currency,
        capture_method=capture_method,
        off_session=off_session,
        payment_method_id=payment_method_id,
        status=CREATED,
        attempt=attempt,
        # Replaced by the id-derived key once the id exists (same transaction).
        idempotency_key=f"pending:{uuid.uuid4()}",
    )
    session.add(payment)
    session.flush()
    payment.idempotency_key = idempotency_key(payment, "create")
    session.flush()
    events.record(
        session,
        subject_type="payment",
        subject_id=payment.id,
        action="payment_created",
        actor=actor,
        freelancer_id=payment.freelancer_id,
        data={
            "subject_type": subject.type,
            "subject_id": str(subject.id),
            "purpose": purpose,
            "amount_minor": amount.amount_minor,
            "currency": amount.currency,
            "capture_method": capture_method,
            "attempt": attempt,
        },
    )
    return payment


def execute_payment(
    session: Session, gateway: PaymentGateway, payment_id: int, *, now: datetime | None = None
) -> Payment:
    """Create and confirm the PaymentIntent of a prepared payment, under a row lock.

    `AlreadyDone` if another worker already executed it. A `GatewayUnavailable`
    leaves the row `created` (outcome unknown) for `reconcile`.
    """
    now = now or utcnow()
    payment = lock(session, Payment, payment_id)
    if payment is None:
        raise NotAllowed(f"no payment {payment_id}")
    if payment.status != CREATED:
        raise AlreadyDone(f"payment {payment_id} is already {payment.status}")
    customer = session.get(PaymentCustomer, payment.customer_id)
    assert customer is not None and customer.stripe_customer_id
    try:
        result = gateway.create_payment_intent(
            amount=Money(payment.amount_minor, payment.currency),
            customer_id=customer.stripe_customer_id,
            payment_method_id=payment.payment_method_id,
            capture_method=payment.capture_method,  # type: ignore[arg-type]
            off_session=payment.off_session,
            idempotency_key=payment.idempotency_key,
            metadata={
                "acompte_payment_id": str(payment.id),
                "acompte_subject": f"{payment.subject_type}:{payment.subject_id}",
            },
        )
    except GatewayUnavailable as exc:
        events.record(
            session,
            subject_type="payment",
            subject_id=payment.id,
            action="payment_outcome_unknown",
            freelancer_id=payment.freelancer_id,
            data={"error": str(exc)},
        )
        raise
    except GatewayRejected as exc:
        # Stripe refused the request itself (e.g. below its minimum amount):
        # nothing happened there, so this attempt failed — an outcome like a
        # decline, not an unknown to reconcile forever.
        payment.failure_code = exc.stripe_code or "rejected"
        payment.failure_message = str(exc)
        transition(session, payment, FAILED, actor=events.SYSTEM, data={"rejected": True})
        return payment
    apply_result(session, payment, result, now=now, actor=events.SYSTEM)
    return payment


def apply_result(
    session: Session,
    payment: Payment,
    result: PaymentIntentResult,
    *,
    now: datetime,
    actor: str,
    event_created: int | None = None,
) -> bool:
    """Bring the row in line with a PaymentIntent as Stripe reports it.

    Used for synchronous answers and for webhooks. Stale information (an older
    webhook, or a state the table cannot reach from ours) is ignored rather
    than applied backwards. Returns whether anything changed.
    """
    if event_created is not None:
        if event_created < payment.stripe_event_created:
            return False
        payment.stripe_event_created = event_created
    if payment.stripe_payment_intent_id is None:
        payment.stripe_payment_intent_id = result.id
    elif payment.stripe_payment_intent_id != result.id:
        raise NotAllowed(f"payment {payment.id} is tied to another PaymentIntent")
    new_status = _FROM_STRIPE.get(result.status, payment.status)
    if new_status == FAILED and result.failure is None and payment.status == CREATED:
        # requires_payment_method without an error: nothing was tried yet.
        new_status = CREATED
    if new_status != payment.status and new_status not in TRANSITIONS[payment.status]:
        return False
    payment.amount_capturable_minor = result.amount_capturable_minor
    if result.amount_received_minor > payment.amount_captured_minor:
        payment.amount_captured_minor = result.amount_received_minor
    elif new_status == SUCCEEDED and payment.amount_captured_minor == 0:
        # Webhook objects from the fake server carry no amounts; a PaymentIntent
        # that succeeded without our own capture call received its full amount.
        payment.amount_captured_minor = payment.amount_minor
    data: dict = {"payment_intent": result.id}
    if new_status == AUTHORIZED and payment.authorized_at is None:
        payment.authorized_at = now
        window = HOLD_WINDOW_OFF_SESSION if payment.off_session else HOLD_WINDOW_ON_SESSION
        payment.hold_expires_at = now + window
        data["hold_expires_at"] = payment.hold_expires_at.isoformat()
    if new_status == FAILED and result.failure is not None:
        payment.failure_code = result.failure.decline_code or result.failure.code
        payment.failure_message = result.failure.message
        payment.hard_decline = result.failure.hard
        data.update(failure_code=payment.failure_code, hard_decline=payment.hard_decline)
    session.flush()
    return transition(session, payment, new_status, actor=actor, data=data)


def capture(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    amount_minor: int | None = None,
    now: datetime | None = None,
    actor: str = events.SYSTEM,
) -> Payment:
    """Capture a hold, fully or partly (the rest is released by Stripe).

    Never after `hold_expires_at`: an expired authorisation cannot be
    captured reliably, so the caller must charge the saved card instead.
    """
    now = now or utcnow()
    payment = _locked(session, payment_id)
    if payment.status == SUCCEEDED:
        raise AlreadyDone(f"payment {payment_id} is already captured")
    if payment.status != AUTHORIZED:
        raise NotAllowed(f"payment {payment_id} is {payment.status}, not authorized")
    if payment.hold_expires_at is not None and now >= payment.hold_expires_at:
        raise NotAllowed(
            f"the hold of payment {payment_id} expired at {payment.hold_expires_at.isoformat()}"
        )
    if amount_minor is not None and not 0 < amount_minor <= payment.amount_capturable_minor:
        raise NotAllowed(f"capture amount must be between 1 and {payment.amount_capturable_minor}")
    assert payment.stripe_payment_intent_id
    result = gateway.capture_payment_intent(
        payment.stripe_payment_intent_id,
        amount_minor=amount_minor,
        idempotency_key=idempotency_key(payment, "capture"),
    )
    apply_result(session, payment, result, now=now, actor=actor)
    return payment


def release(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    now: datetime | None = None,
    actor: str = events.SYSTEM,
    reason: str = "",
) -> Payment:
    """Cancel a hold or an unfinished payment: the client's money is freed."""
    now = now or utcnow()
    payment = _locked(session, payment_id)
    if payment.status == CANCELED:
        raise AlreadyDone(f"payment {payment_id} is already canceled")
    if payment.status not in (AUTHORIZED, REQUIRES_ACTION, CREATED):
        raise NotAllowed(f"payment {payment_id} is {payment.status}; refund it instead")
    if payment.stripe_payment_intent_id is None:
        # Never sent to Stripe: nothing to release there.
        transition(session, payment, CANCELED, actor=actor, data={"reason": reason})
        return payment
    result = gateway.cancel_payment_intent(
        payment.stripe_payment_intent_id, idempotency_key=idempotency_key(payment, "cancel")
    )
    apply_result(session, payment, result, now=now, actor=actor)
    if payment.status == CANCELED and reason:
        events.record(
            session,
            subject_type="payment",
            subject_id=payment.id,
            action="payment_release_reason",
            actor=actor,
            freelancer_id=payment.freelancer_id,
            data={"reason": reason},
        )
    return payment


def refund(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    amount_minor: int | None = None,
    reason: str = "",
    actor: str = events.SYSTEM,
) -> Refund:
    """Give money back on a captured payment, fully (`None`) or partly."""
    payment = _locked(session, payment_id)
    if payment.status != SUCCEEDED:
        raise NotAllowed(f"payment {payment_id} is {payment.status}; nothing captured to refund")
    refundable = payment.amount_captured_minor - payment.amount_refunded_minor
    amount = refundable if amount_minor is None else amount_minor
    if refundable <= 0:
        raise AlreadyDone(f"payment {payment_id} is fully refunded")
    if not 0 < amount <= refundable:
        raise NotAllowed(f"refund amount must be between 1 and {refundable}")
    # The n-th refund of this payment: stable across a crash and retry, so
    # Stripe deduplicates instead of refunding twice.
    n = 1 + (
        session.scalar(select(func.count(Refund.id)).where(Refund.payment_id == payment.id)) or 0
    )
    key = idempotency_key(payment, f"refund:{n}")
    assert payment.stripe_payment_intent_id
    result = gateway.refund(
        payment.stripe_payment_intent_id,
        amount_minor=amount,
        idempotency_key=key,
        metadata={"acompte_payment_id": str(payment.id)},
    )
    row = Refund(
        payment_id=payment.id,
        amount_minor=result.amount_minor,
        reason=reason,
        idempotency_key=key,
        stripe_refund_id=result.id,
        status=result.status,
    )
    session.add(row)
    payment.amount_refunded_minor += result.amount_minor
    session.flush()
    events.record(
        session,
        subject_type="payment",
        subject_id=payment.id,
        action="payment_refunded",
        actor=actor,
        freelancer_id=payment.freelancer_id,
        data={
            "amount_minor": result.amount_minor,
            "currency": payment.currency,
            "refund": result.id,
            "reason": reason,
        },
    )
    return row


def reconcile(
    session: Session, gateway: PaymentGateway, payment_id: int, *, now: datetime | None = None
) -> Payment:
    """Find out what happened to a payment whose outcome is unknown.

    A `created` row is executed again with its original idempotency key
    (Stripe replays the first answer); a row with a PaymentIntent is
    refreshed from Stripe.
    """
    now = now or utcnow()
    payment = _locked(session, payment_id)
    if payment.status == CREATED:
        return execute_payment(session, gateway, payment_id, now=now)
    if payment.stripe_payment_intent_id and payment.status not in TERMINAL:
        result = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
        apply_result(session, payment, result, now=now, actor=events.SYSTEM)
    return payment


def _locked(session: Session, payment_id: int) -> Payment:
    payment = lock(session, Payment, payment_id)
    if payment is None:
        raise NotAllowed(f"no payment {payment_id}")
    return payment
