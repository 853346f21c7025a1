"""Refunds: money given back on a captured payment, exactly once.

The refund row is committed (`created`) before Stripe is called; a refund
whose answer was lost is looked up by `metadata.acompte_refund_id` before it
is ever sent again (`send_refund(..., in_doubt=True)`, from the reconcile
sweep). Its subject hears of it (`outcomes.notify_refund`) once Stripe
confirmed it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import events
from billing.errors import AlreadyDone, NotAllowed
from billing.gateway.port import PaymentGateway
from billing.ledger import CREATED, SUCCEEDED, apply_refund, lock_for_write
from billing.models import Payment, Refund
from billing.phases import same_account

PAYMENT_METADATA = "acompte_payment_id"
REFUND_METADATA = "acompte_refund_id"


def refund(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    amount_minor: int | None = None,
    reason: str = "",
    actor: str = events.SYSTEM,
) -> Refund:
    """Give money back on a captured payment, fully (`None`) or partly; commits.

    The refund row is committed before Stripe is called; its subject hears of
    it (`outcomes.notify_refund`) once Stripe confirmed it, here or in the sweep.
    """
    payment = lock_for_write(session, payment_id)
    if payment.status != SUCCEEDED:
        raise NotAllowed(f"payment {payment_id} is {payment.status}; nothing captured to refund")
    pending = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == payment.id, Refund.status == CREATED
        )
    )
    refundable = payment.amount_captured_minor - payment.amount_refunded_minor - int(pending or 0)
    amount = refundable if amount_minor is None else amount_minor
    if refundable <= 0:
        raise AlreadyDone(f"payment {payment_id} is fully refunded")
    if not 0 < amount <= refundable:
        raise NotAllowed(f"refund amount must be between 1 and {refundable}")
    same_account(gateway, payment)
    row = Refund(
        payment_id=payment.id,
        amount_minor=amount,
        reason=reason,
        idempotency_key=f"acompte:refund:{uuid.uuid4().hex}",
        status=CREATED,
    )
    session.add(row)
    session.flush()
    events.record(
        session,
        subject_type="payment",
        subject_id=payment.id,
        action="payment_refund_requested",
        actor=actor,
        freelancer_id=payment.freelancer_id,
        data={"refund_id": row.id, "amount_minor": amount, "reason": reason},
    )
    session.commit()
    return send_refund(session, gateway, row.id, actor=actor, in_doubt=False)


def send_refund(
    session: Session, gateway: PaymentGateway, refund_id: int, *, actor: str, in_doubt: bool
) -> Refund:
    row = session.get(Refund, refund_id)
    assert row is not None
    payment = session.get(Payment, row.payment_id)
    assert payment is not None and payment.stripe_payment_intent_id
    intent_id = payment.stripe_payment_intent_id
    result = None
    if in_doubt:
        result = gateway.find_refund(
            intent_id, metadata_key=REFUND_METADATA, metadata_value=str(row.id)
        )
    if result is None:
        result = gateway.refund(
            intent_id,
            amount_minor=row.amount_minor,
            idempotency_key=row.idempotency_key,
            metadata={PAYMENT_METADATA: str(payment.id), REFUND_METADATA: str(row.id)},
        )
    return apply_refund(session, refund_id, result, actor=actor)
