"""The payment row's states and how Stripe's answers move it.

`billing.payments` makes the Stripe writes; this module holds what they, the
webhooks and the reconcile sweep share: the status table, `apply_result`
(Stripe's word applied to our row, never backwards), the in-flight marks and
the lock order (subject, then payment).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from billing import events, outcomes
from billing.errors import AlreadyDone, NotAllowed
from billing.gateway import port
from billing.gateway.port import PaymentIntentResult, RefundResult
from billing.locking import lock
from billing.models import Payment, Refund
from billing.states import StateMachine

# Our statuses.
CREATED = "created"  # row committed; Stripe not called yet, or its answer not stored
REQUIRES_ACTION = "requires_action"  # 3-D Secure to complete in the browser
PROCESSING = "processing"
AUTHORIZED = "authorized"  # a hold: money reserved, not captured
SUCCEEDED = "succeeded"  # money captured
FAILED = "failed"  # declined or authentication failed; a retry is a new payment
CANCELED = "canceled"  # hold released, or abandoned before confirmation

# The Stripe writes a row can have in flight.
CREATE, CAPTURE, CANCEL = "create", "capture", "cancel"

MACHINE = StateMachine(
    "payment",
    {
        CREATED: {REQUIRES_ACTION, PROCESSING, AUTHORIZED, SUCCEEDED, FAILED, CANCELED},
        REQUIRES_ACTION: {PROCESSING, AUTHORIZED, SUCCEEDED, FAILED, CANCELED},
        PROCESSING: {AUTHORIZED, SUCCEEDED, FAILED, CANCELED},
        AUTHORIZED: {SUCCEEDED, CANCELED},
        SUCCEEDED: set(),
        FAILED: set(),
        CANCELED: set(),
    },
)
TRANSITIONS = MACHINE.table
TERMINAL = MACHINE.terminal()
# Not final, and not a hold: a payment still on its way (a write in doubt,
# 3-D Secure open, processing). A client coming back resumes it, never starts another.
UNFINISHED = frozenset({CREATED, REQUIRES_ACTION, PROCESSING})

# A Stripe write marked in flight longer than this has lost its caller (the
# SDK gives up well before: 3 retries of at most 20 s with backoff).
LEASE = timedelta(minutes=5)
# How long the sweep leaves a non-final payment before re-reading it from
# Stripe when no webhook moved it: a lost webhook costs at most this.
RECHECK_AFTER = {
    CREATED: LEASE,
    REQUIRES_ACTION: timedelta(minutes=2),
    PROCESSING: timedelta(minutes=2),
    AUTHORIZED: timedelta(hours=6),
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


class InFlight(AlreadyDone):
    """Another process is making a Stripe write on this payment right now: leave it."""

    code = "in_flight"


@dataclass(frozen=True, slots=True)
class Subject:
    """What a payment is for: ("booking", 12), ("milestone", 7), ("message", 3)…"""

    type: str
    id: int | str


def lock_for_write(session: Session, payment_id: int) -> Payment:
    """Lock the payment's subject, then the payment (the one lock order); fresh row."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotAllowed(f"no payment {payment_id}")
    outcomes.lock_subject(session, payment.subject_type, payment.subject_id)
    locked = lock(session, Payment, payment_id)
    assert locked is not None
    return locked


def lapsed(payment: Payment, now: datetime) -> bool:
    """Whether the write in flight has lost its caller (or there is none)."""
    return payment.in_flight_since is None or payment.in_flight_since <= now - LEASE


def mark_in_flight(payment: Payment, action: str, since: datetime) -> None:
    """Record the Stripe write about to be made (committed before the call)."""
    payment.in_flight = action
    payment.in_flight_since = since


def finish_write(payment: Payment) -> None:
    """Stripe's answer is in hand: nothing is in flight any more."""
    payment.in_flight = None
    payment.in_flight_since = None


def transition(
    session: Session,
    payment: Payment,
    new_status: str,
    *,
    actor: str = events.SYSTEM,
    data: dict | None = None,
) -> bool:
    """Move `payment` to `new_status` if allowed; record the event; notify the subject.

    Returns False (and changes nothing) when already there; raises `NotAllowed`
    for a move the table forbids.
    """
    old = payment.status
    if not MACHINE.check(old, new_status, what=f"payment {payment.id}"):
        return False
    payment.status = new_status
    session.flush()
    events.append(
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

    Used for synchronous answers, webhooks and the sweep. Stale information
    (an older webhook, or a state the table cannot reach from ours) is
    ignored rather than applied backwards. Returns whether anything changed.
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
    if new_status != payment.status and not MACHINE.allows(payment.status, new_status):
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
    # No flush of its own: the transition's flush writes these columns and the
    # status in one UPDATE (issue 14); without a transition the caller's commit does.
    return transition(session, payment, new_status, actor=actor, data=data)


def apply_refund(session: Session, refund_id: int, result: RefundResult, *, actor: str) -> Refund:
    """Record Stripe's answer to a refund (once), then tell the subject; commits."""
    found = session.get(Refund, refund_id)
    assert found is not None
    payment = lock_for_write(session, found.payment_id)
    row = lock(session, Refund, refund_id)
    assert row is not None
    if row.status != CREATED:
        session.commit()
        return row
    row.stripe_refund_id = result.id
    row.status = result.status if result.status != CREATED else "pending"
    if result.status != "failed" and result.status != "canceled":
        payment.amount_refunded_minor += result.amount_minor
        row.amount_minor = result.amount_minor
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
            "reason": row.reason,
        },
    )
    outcomes.notify_refund(session, payment, row)
    session.commit()
    return row


def reconcile_candidates(session: Session, now: datetime, *, limit: int = 200) -> list[int]:
    """Payments the sweep must re-read at `now`: any feature, any non-final state.

    Writes in doubt (lease lapsed), off-session charges prepared but never sent,
    client payments abandoned before Stripe, 3-D Secure and processing
    payments whose webhook may be lost, holds (re-read now and then), and
    payments with a refund in doubt. Each re-read bumps `updated_at`, so a row
    is read at most once per `RECHECK_AFTER` of its status.
    """
    in_doubt = Payment.in_flight.is_not(None) & (Payment.in_flight_since <= now - LEASE)
    stale = or_(
        *(
            (Payment.status == status) & (Payment.updated_at <= now - delay)
            for status, delay in RECHECK_AFTER.items()
        )
    )
    refund_in_doubt = Payment.id.in_(
        select(Refund.payment_id).where(Refund.status == CREATED, Refund.created_at <= now - LEASE)
    )
    # Three indexed reads (a single OR of them would read the whole table):
    # ix_payment_in_flight, ix_payment_status_updated, and refunds by status.
    ids = set(session.scalars(select(Payment.id).where(in_doubt).limit(limit)))
    ids.update(
        session.scalars(
            select(Payment.id)
            .where(Payment.status.in_(tuple(RECHECK_AFTER)), stale, Payment.in_flight.is_(None))
            .limit(limit)
        )
    )
    ids.update(session.scalars(select(Payment.id).where(refund_in_doubt).limit(limit)))
    return sorted(ids)[:limit]
