"""The payment ledger: charges and holds with a saved card, for every feature.

Sessions, quotes, paid messages and dunning all move money through these
functions, so the mechanics (crash safety, locks, expiry of holds, failures)
exist once.

Stripe is the source of truth, and every write is split in atomic phases
(Brandur Leach's "recovery points"):

1. under the locks (subject, then payment: the one lock order), check the
   state, mark the write `in_flight` and COMMIT;
2. call Stripe with no transaction open, so no lock waits on the network;
3. under the locks again, apply what Stripe answered and COMMIT.

A crash (or a lost answer) between 2 and 3 leaves the row in flight. Once its
lease has lapsed, `reconcile` looks Stripe up before anything else — the
PaymentIntent made for this row is found by `metadata.acompte_payment_id`, a
refund by `metadata.acompte_refund_id` — and adopts it. A write is repeated
only when Stripe has nothing: idempotency keys are still sent, but the design
never relies on them (the fake server ignores them, which the tests use).
A capture or cancel that Stripe refuses re-reads the PaymentIntent and
applies what Stripe says (a hold captured meanwhile, a payment that
succeeded while we were releasing it).

The statuses and how an answer moves a row live in `billing.ledger`, the
phase helpers in `billing.phases`, refunds in `billing.refunds`; this module
is the charge, hold, capture and release writes and the reconcile sweep.
These functions COMMIT (that is what makes them crash safe): call them with
nothing pending that must not be committed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from billing import events
from billing.claims import claim_capture, claim_create
from billing.db import utcnow
from billing.errors import AlreadyDone, GatewayRejected, GatewayUnavailable, NotAllowed
from billing.gateway.port import CaptureMethod, PaymentGateway, SetupFutureUsage
from billing.ledger import (
    AUTHORIZED,
    CANCEL,
    CANCELED,
    CAPTURE,
    CREATE,
    CREATED,
    FAILED,
    HOLD_WINDOW_OFF_SESSION,
    HOLD_WINDOW_ON_SESSION,
    LEASE,
    PROCESSING,
    REQUIRES_ACTION,
    SUCCEEDED,
    TERMINAL,
    TRANSITIONS,
    InFlight,
    Subject,
    apply_result,
    finish_write,
    lapsed,
    lock_for_write,
    reconcile_candidates,
    transition,
)
from billing.models import Payment, PaymentCustomer, Refund
from billing.money import Money
from billing.phases import (
    abandon,
    answer_lost,
    apply_answer,
    claim,
    same_account,
    state_after_refusal,
)
from billing.refunds import PAYMENT_METADATA, refund, send_refund

__all__ = [
    "AUTHORIZED",
    "CANCELED",
    "CREATED",
    "FAILED",
    "HOLD_WINDOW_OFF_SESSION",
    "HOLD_WINDOW_ON_SESSION",
    "LEASE",
    "PROCESSING",
    "REQUIRES_ACTION",
    "SUCCEEDED",
    "TERMINAL",
    "TRANSITIONS",
    "InFlight",
    "Payment",
    "Subject",
    "apply_result",
    "capture",
    "execute_payment",
    "prepare_payment",
    "reconcile",
    "reconcile_candidates",
    "refund",
    "release",
    "transition",
]


def idempotency_key(payment: Payment, action: str) -> str:
    """The Stripe idempotency key of one write on this payment (from its stored nonce)."""
    if action == CREATE:
        return payment.idempotency_key
    return f"{payment.idempotency_key}:{action}"


@cache
def _count_attempts() -> Any:
    """The subject's earlier payments for this purpose: one statement, built once."""
    table = Payment.__table__
    return select(func.count()).where(
        table.c.subject_type == bindparam("subject_type"),
        table.c.subject_id == bindparam("subject_id"),
        table.c.purpose == bindparam("purpose"),
    )


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
    setup_future_usage: SetupFutureUsage | None = None,
) -> Payment:
    """Write a payment row in `created` (flushed); the caller commits before `execute_payment`.

    `setup_future_usage="off_session"`: the payment also saves its card for
    later off-session charges (a card given on the page, with no SetupIntent).
    """
    if amount.amount_minor <= 0:
        raise NotAllowed("a payment needs a positive amount")
    session.flush()  # as the ORM's autoflush would: a payment pending is counted
    attempt = 1 + (
        session.connection()
        .execute(
            _count_attempts(),
            {"subject_type": subject.type, "subject_id": str(subject.id), "purpose": purpose},
        )
        .scalar_one()
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
        setup_future_usage=setup_future_usage,
        status=CREATED,
        attempt=attempt,
        stripe_account=customer.stripe_account,
        # A nonce, not the row id: a rolled-back id is reused by SQLite.
        idempotency_key=f"acompte:payment:{uuid.uuid4().hex}",
    )
    session.add(payment)
    session.flush()
    events.append(
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
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    now: datetime | None = None,
    client_present: bool = True,
) -> Payment:
    """Create and confirm the PaymentIntent of a prepared payment; commits.

    `AlreadyDone` if it was executed already, `InFlight` while another
    process is at it. Retried after a lost answer, it first looks for the
    PaymentIntent the lost attempt made; without the client present, an
    on-session payment that never reached Stripe is abandoned rather than
    made. `GatewayUnavailable` leaves the row in doubt for `reconcile`.
    """
    now = now or utcnow()
    payment, in_doubt = claim_create(session, gateway, payment_id, now)
    customer = session.get(PaymentCustomer, payment.customer_id)
    assert customer is not None and customer.stripe_customer_id
    session.commit()
    try:
        result = None
        if in_doubt:
            result = gateway.find_payment_intent(
                customer_id=customer.stripe_customer_id,
                metadata_key=PAYMENT_METADATA,
                metadata_value=str(payment.id),
            )
        if result is None and in_doubt and not client_present and not payment.off_session:
            return abandon(session, payment_id, now)
        if result is None:
            result = gateway.create_payment_intent(
                amount=Money(payment.amount_minor, payment.currency),
                customer_id=customer.stripe_customer_id,
                payment_method_id=payment.payment_method_id,
                capture_method=payment.capture_method,  # type: ignore[arg-type]
                off_session=payment.off_session,
                idempotency_key=payment.idempotency_key,
                metadata={
                    PAYMENT_METADATA: str(payment.id),
                    "acompte_subject": f"{payment.subject_type}:{payment.subject_id}",
                },
                setup_future_usage=payment.setup_future_usage,  # type: ignore[arg-type]
            )
    except GatewayUnavailable as exc:
        answer_lost(session, payment_id, CREATE, exc, now)
        raise
    except GatewayRejected as exc:
        # Stripe refused the request itself (e.g. below its minimum amount):
        # nothing happened there, so this attempt failed — an outcome like a
        # decline, not an unknown to reconcile forever.
        payment = lock_for_write(session, payment_id)
        finish_write(payment)
        if payment.status == CREATED:
            payment.failure_code = exc.stripe_code or "rejected"
            payment.failure_message = str(exc)
            transition(session, payment, FAILED, actor=events.SYSTEM, data={"rejected": True})
        session.commit()
        return payment
    return apply_answer(session, payment_id, result, now, events.SYSTEM)


def capture(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    amount_minor: int | None = None,
    now: datetime | None = None,
    actor: str = events.SYSTEM,
) -> Payment:
    """Capture a hold, fully or partly (the rest is released by Stripe); commits.

    Never after `hold_expires_at`: an expired authorisation cannot be
    captured reliably, so the caller must charge the saved card instead.
    """
    now = now or utcnow()
    payment = claim_capture(session, gateway, payment_id, amount_minor, now)
    assert payment.stripe_payment_intent_id
    intent_id, key = payment.stripe_payment_intent_id, idempotency_key(payment, CAPTURE)
    session.commit()
    try:
        try:
            result = gateway.capture_payment_intent(
                intent_id, amount_minor=amount_minor, idempotency_key=key
            )
        except GatewayRejected as refused:
            # Captured (or cancelled, or lapsed) meanwhile: Stripe's state is
            # the answer. Still capturable: the refusal itself is the answer.
            result = state_after_refusal(session, gateway, payment_id, intent_id, refused)
    except GatewayUnavailable as exc:
        answer_lost(session, payment_id, CAPTURE, exc, now)
        raise
    return apply_answer(session, payment_id, result, now, actor)


def release(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    now: datetime | None = None,
    actor: str = events.SYSTEM,
    reason: str = "",
) -> Payment:
    """Cancel a hold or an unfinished payment: the client's money is freed; commits.

    If Stripe refuses because the payment succeeded meanwhile (3-D Secure
    completed while we gave up on it), the payment is recorded as succeeded:
    the caller sees it and settles (keeps or refunds) instead.
    """
    now = now or utcnow()
    payment = lock_for_write(session, payment_id)
    if payment.status == CANCELED:
        raise AlreadyDone(f"payment {payment_id} is already canceled")
    if payment.status not in (AUTHORIZED, REQUIRES_ACTION, PROCESSING, CREATED):
        raise NotAllowed(f"payment {payment_id} is {payment.status}; refund it instead")
    if payment.stripe_payment_intent_id is None and payment.in_flight is None:
        # Never sent to Stripe: nothing to release there.
        transition(session, payment, CANCELED, actor=actor, data={"reason": reason})
        session.commit()
        return payment
    if payment.stripe_payment_intent_id is None:
        # A create in doubt: find out first what Stripe made of it.
        session.commit()
        payment = reconcile(session, gateway, payment_id, now=now)
        if payment.status in TERMINAL or payment.stripe_payment_intent_id is None:
            return payment
        return release(session, gateway, payment_id, now=now, actor=actor, reason=reason)
    same_account(gateway, payment)
    claim(session, payment, CANCEL, now)
    intent_id, key = payment.stripe_payment_intent_id, idempotency_key(payment, CANCEL)
    session.commit()
    try:
        try:
            result = gateway.cancel_payment_intent(intent_id, idempotency_key=key)
        except GatewayRejected as refused:
            result = state_after_refusal(session, gateway, payment_id, intent_id, refused)
    except GatewayUnavailable as exc:
        answer_lost(session, payment_id, CANCEL, exc, now)
        raise
    payment = apply_answer(session, payment_id, result, now, actor, commit=False)
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
    session.commit()
    return payment


def reconcile(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    now: datetime | None = None,
    client_present: bool = False,
) -> Payment:
    """Bring one payment in line with Stripe; commits. Safe to run any time, any number of times.

    A create in doubt is looked up (and adopted, or abandoned/made as
    `execute_payment` decides); a row with a PaymentIntent is re-read; a
    refund whose answer was lost is looked up, then sent if Stripe has none.
    A write another process is still making (lease not lapsed) is left alone.
    """
    now = now or utcnow()
    payment = lock_for_write(session, payment_id)
    if payment.in_flight is not None and not lapsed(payment, now):
        session.commit()
        return payment
    if payment.status == CREATED:
        if payment.in_flight is None and not payment.off_session and not client_present:
            # Prepared for a client who is gone, and never sent: nothing at Stripe.
            if payment.created_at <= now - LEASE:
                transition(session, payment, CANCELED, data={"reason": "abandoned before Stripe"})
            session.commit()
            return payment
        session.commit()
        try:
            return execute_payment(
                session, gateway, payment_id, now=now, client_present=client_present
            )
        except AlreadyDone:
            session.rollback()
            return lock_for_write(session, payment_id)
    if payment.stripe_payment_intent_id and (
        payment.status not in TERMINAL or payment.in_flight is not None
    ):
        intent_id, pending = payment.stripe_payment_intent_id, payment.in_flight
        session.commit()
        result = gateway.retrieve_payment_intent(intent_id)
        payment = apply_answer(session, payment_id, result, now, events.SYSTEM, commit=False)
        payment.updated_at = now  # re-read now: the sweep skips it for a while
        session.commit()
        if pending is not None:
            return _redo(session, gateway, payment, pending, now)
    session.commit()
    for refund_id in session.scalars(
        select(Refund.id).where(
            Refund.payment_id == payment_id,
            Refund.status == CREATED,
            Refund.created_at <= now - LEASE,
        )
    ).all():
        send_refund(session, gateway, refund_id, actor=events.SYSTEM, in_doubt=True)
    return payment


def _redo(
    session: Session, gateway: PaymentGateway, payment: Payment, pending: str, now: datetime
) -> Payment:
    """A capture or cancel whose caller died: Stripe still shows the hold, so it never
    arrived; make it now (Stripe refuses a second one, so this cannot double)."""
    action, _, amount = pending.partition(":")
    if payment.status != AUTHORIZED or action not in (CAPTURE, CANCEL):
        return payment
    if action == CAPTURE:
        return capture(
            session, gateway, payment.id, amount_minor=int(amount) if amount else None, now=now
        )
    return release(session, gateway, payment.id, now=now, reason="released after a lost answer")
