"""The claim phase of the Stripe writes: lock, check, mark in flight (caller commits).

`billing.payments` makes each write in three phases (see its docstring); the
first one is here. The usual case — a row exactly as the write expects it,
nothing in flight — is one `UPDATE … RETURNING` (SQLite ≥ 3.35, PostgreSQL)
after the subject's lock: it locks the payment, checks it, marks the write in
flight and reads the row back at once (issue 14: one statement instead of a
lock's two and the mark's flush). Anything else takes the long way — the
locks, the checks one by one, `phases.claim` — which raises what it always
raised: `AlreadyDone`, `NotAllowed`, `InFlight`.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.orm import Session

from billing import outcomes
from billing.db import utcnow
from billing.errors import AlreadyDone, NotAllowed
from billing.gateway.port import PaymentGateway
from billing.ledger import AUTHORIZED, CAPTURE, CREATE, CREATED, SUCCEEDED, lock_for_write
from billing.models import Payment
from billing.phases import claim, same_account


@cache
def _claim_statement() -> Any:
    """Mark a write in flight on a row as expected, and read it back: built once."""
    return (
        update(Payment)
        .where(
            Payment.id == bindparam("claim_id"),
            Payment.status == bindparam("claim_status"),
            Payment.in_flight.is_(None),
            or_(
                Payment.hold_expires_at.is_(None),
                Payment.hold_expires_at > bindparam("claim_before"),
            ),
            Payment.amount_capturable_minor >= bindparam("claim_least"),
        )
        .values(
            in_flight=bindparam("claim_action"),
            in_flight_since=bindparam("claim_since"),
            updated_at=bindparam("claim_at"),
        )
        .returning(Payment)
        .execution_options(populate_existing=True, synchronize_session=False)
    )


def claim_at_once(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    status: str,
    action: str,
    now: datetime,
    capturable_at_least: int = 0,
) -> Payment | None:
    """The usual claim in one statement: the locked, fresh row with `action` in flight.

    Locks the subject (the one lock order), then `UPDATE … RETURNING` the
    payment only if it is in `status`, with nothing in flight, its hold (if
    any) not expired at `now` and at least `capturable_at_least` capturable —
    what `lock_for_write`, the caller's checks and `claim` would have found
    and written, in one statement instead of three. None otherwise (or for a
    gateway of another account): the caller then takes the long way, which
    says why. The caller commits.
    """
    payment = session.get(Payment, payment_id)
    if payment is None:
        return None
    ref = getattr(gateway, "account_ref", None)
    if ref and payment.stripe_account and ref != payment.stripe_account:
        return None  # `stripe_account` never changes: same_account refuses it
    outcomes.lock_subject(session, payment.subject_type, payment.subject_id)
    return session.scalar(
        _claim_statement(),
        {
            "claim_id": payment_id,
            "claim_status": status,
            "claim_before": now,
            "claim_least": capturable_at_least,
            "claim_action": action,
            "claim_since": now,
            "claim_at": utcnow(),
        },
    )


def claim_create(
    session: Session, gateway: PaymentGateway, payment_id: int, now: datetime
) -> tuple[Payment, bool]:
    """Claim the create of a prepared payment: the row, and whether an earlier one is in doubt.

    `AlreadyDone` (committed) if it was executed already.
    """
    payment = claim_at_once(session, gateway, payment_id, status=CREATED, action=CREATE, now=now)
    if payment is not None:
        return payment, False
    payment = lock_for_write(session, payment_id)
    if payment.status != CREATED:
        session.commit()
        raise AlreadyDone(f"payment {payment_id} is already {payment.status}")
    same_account(gateway, payment)
    return payment, claim(session, payment, CREATE, now)


def claim_capture(
    session: Session,
    gateway: PaymentGateway,
    payment_id: int,
    amount_minor: int | None,
    now: datetime,
) -> Payment:
    """Claim the capture of a hold, fully (`None`) or partly; never after `hold_expires_at`."""
    # The amount travels with the mark, so that the sweep can redo a capture
    # that never reached Stripe.
    action = CAPTURE if amount_minor is None else f"{CAPTURE}:{amount_minor}"
    if amount_minor is None or amount_minor > 0:
        payment = claim_at_once(
            session,
            gateway,
            payment_id,
            status=AUTHORIZED,
            action=action,
            now=now,
            capturable_at_least=amount_minor or 0,
        )
        if payment is not None:
            return payment
    payment = lock_for_write(session, payment_id)
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
    same_account(gateway, payment)
    claim(session, payment, action, now)
    return payment
