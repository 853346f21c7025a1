"""What dunning hears: every payment (a failed charge opens a case, a success closes it)
and every invoice status (paid by any means stops the reminders).

Registered by the app factory (`subscribe_to_ledger`, in `register_billing`),
never by importing this module.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from flask import has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events, outcomes, payments
from billing.db import utcnow
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.errors import AlreadyDone
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice
from billing.models import Payment
from webapp.dunning.cases import LINK_PURPOSE, RETRY_PURPOSE, invoice_of
from webapp.dunning.opening import open_for_failed_payment


def mark_paid(
    session: Session,
    case: DunningCase,
    *,
    now: datetime,
    payment: Payment | None = None,
    actor: str = events.SYSTEM,
) -> None:
    """Close the case as paid (once), recording a card payment on its invoice."""
    if case.status in engine.CLOSED:
        return
    invoice = invoice_of(session, case)
    if payment is not None and invoice is not None:
        with suppress(AlreadyDone), session.begin_nested():
            invoicing.record_payment(
                session,
                invoice.id,
                amount_minor=min(
                    payment.amount_captured_minor or payment.amount_minor,
                    invoicing.balance_due(invoice),
                ),
                method="card",
                paid_at=now,
                payment_id=payment.id,
                reference=payment.stripe_payment_intent_id or "",
                actor=actor,
            )
    if case.status in engine.CLOSED:
        # The invoice turning paid already closed it (`on_invoice_status`).
        return
    engine.close(
        session,
        case,
        engine.PAID,
        actor=actor,
        now=now,
        data={
            "payment_id": payment.id if payment else None,
            "purpose": payment.purpose if payment else None,
        },
    )
    tell_paid(session, case)


def tell_paid(session: Session, case: DunningCase) -> None:
    """The freelancer hears that a recovery case is paid (same transaction)."""
    from webapp.notifications.service import to_freelancer

    to_freelancer(
        session,
        case.freelancer_id,
        "dunning_paid",
        client=f"{case.client_name} <{case.client_email}>",
        amount_minor=case.amount_minor,
        currency=case.currency,
    )


def on_invoice_status(session: Session, invoice: Invoice, old: str, new: str) -> None:
    """Invoices tell us when an invoice is paid (e.g. a transfer recorded): stop at once."""
    if new != invoicing.PAID and new != invoicing.CREDITED:
        return
    case = session.scalar(
        select(DunningCase).where(
            DunningCase.invoice_id == invoice.id, DunningCase.freelancer_id == invoice.freelancer_id
        )
    )
    if case is None or case.status in engine.CLOSED:
        return
    if new == invoicing.PAID:
        engine.close(
            session,
            case,
            engine.PAID,
            actor=events.SYSTEM,
            now=utcnow(),
            data={"invoice": invoice.number},
        )
        tell_paid(session, case)
    else:
        engine.close(
            session,
            case,
            engine.RESOLVED,
            actor=events.SYSTEM,
            now=utcnow(),
            data={"credited": invoice.number},
        )


def on_payment(session: Session, payment: Payment, old: str, new: str) -> None:
    """Every payment status change: open a case on a failed off-session charge, close on success."""
    if payment.subject_type == engine.SUBJECT:
        return
    key = f"payment:{payment.subject_type}:{payment.subject_id}"
    if new == payments.SUCCEEDED:
        case = engine.find_case(session, payment.freelancer_id, key)
        if case is None:
            return
        # Even when the case is closed already: the invoices' ledger
        # subscriber runs first (the subject's own subscribers, then it,
        # registered before us), records this payment on the case's invoice,
        # and the paid invoice closes the case before we hear of it. The retry
        # step still says what became of it.
        _step_outcome(session, case, payment, "charged")
        if case.status not in engine.CLOSED:
            mark_paid(session, case, now=utcnow(), payment=payment)
        return
    if new != payments.FAILED:
        return
    case = engine.find_case(session, payment.freelancer_id, key)
    if payment.purpose in (RETRY_PURPOSE, LINK_PURPOSE):
        if case is not None:
            _step_outcome(session, case, payment, "failed")
            if payment.hard_decline and not case.hard_decline:
                # Card networks fine merchants who retry a lost or stolen card.
                case.hard_decline = True
                engine.record(
                    session,
                    case,
                    "dunning_retries_stopped",
                    data={"failure_code": payment.failure_code},
                    actor=events.SYSTEM,
                )
        return
    if not payment.off_session or payment.capture_method == "manual":
        # Dunning recovers money owed. A failed pre-authorisation is not owed
        # yet: the booking asks the client for another card, then cancels.
        return
    if not has_app_context():
        # Opening needs the app (invoices, e-mail, keys); the due sweep catches up.
        return
    open_for_failed_payment(session, payment, now=utcnow())


def _step_outcome(session: Session, case: DunningCase, payment: Payment, outcome: str) -> None:
    for step in engine.steps_of(session, case.id).values():
        if step.payment_id == payment.id and step.outcome != outcome:
            step.outcome = outcome
            engine.record(
                session,
                case,
                f"dunning_retry_{outcome}",
                actor=events.SYSTEM,
                data={
                    "step": step.step,
                    "payment_id": payment.id,
                    "failure_code": payment.failure_code,
                },
            )
    session.flush()


def subscribe_to_ledger() -> None:
    """Listen to every payment and every invoice status (the app factory's step; idempotent).

    After `webapp.invoices.ledger.subscribe_to_ledger`: see `on_payment`.
    """
    outcomes.subscribe(outcomes.ANY_SUBJECT)(on_payment)
    invoicing.on_status_change(on_invoice_status)
