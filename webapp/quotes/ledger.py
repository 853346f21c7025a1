"""A milestone in the ledger: its payments' subject and lock, its off-session charge, and
what a change of its payment does to it (paid, then invoiced by the invoices'
ledger subscriber; or payment failed).

`subscribe_to_ledger` is the app factory's step (`webapp.register_billing`):
nothing here registers itself at import.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events, outcomes, payments
from billing.db import utcnow
from billing.errors import NotAllowed
from billing.locking import lock
from billing.models import CardSetup, Payment, PaymentCustomer
from billing.money import Money
from billing.payments import Subject
from webapp.invoices import ledger as invoices
from webapp.quotes import invoicing
from webapp.quotes import transitions as t
from webapp.quotes.models import Milestone, Quote

SUBJECT = "milestone"


def subscribe_to_ledger() -> None:
    """What milestones hear from the ledger (the app factory's step; idempotent)."""
    # The milestone before its payments: the engine's one lock order.
    outcomes.register_subject_lock(SUBJECT, _lock_milestone)
    outcomes.subscribe(SUBJECT)(on_payment_change)
    invoices.register(
        SUBJECT,
        invoicing.what_to_invoice,
        not_issued=invoicing.NOT_ISSUED,
        issued=invoicing.record_invoiced,
    )


def _lock_milestone(session: Session, subject_id: str) -> None:
    lock(session, Milestone, int(subject_id))


def milestone_subject(milestone: Milestone) -> Subject:
    """The ledger subject of a milestone's payments."""
    return Subject(SUBJECT, milestone.id)


def saved_card(session: Session, quote: Quote) -> tuple[PaymentCustomer, str]:
    """The accepted quote's Stripe customer and saved card; `NotAllowed` without one."""
    setup = session.get(CardSetup, quote.card_setup_id) if quote.card_setup_id else None
    if setup is None or not setup.payment_method_id:
        raise NotAllowed(f"quote {quote.id} has no saved card")
    customer = session.get(PaymentCustomer, setup.customer_id)
    assert customer is not None
    return customer, setup.payment_method_id


def prepare_charge(
    session: Session, quote: Quote, milestone: Milestone, *, off_session: bool, actor: str
) -> Payment:
    """Move the milestone to `charging` and write its payment row (not yet sent to Stripe).

    For the due runner's off-session charges; the client-present deposit goes
    through `webapp.quotes.checkout`.
    """
    customer, payment_method_id = saved_card(session, quote)
    t.move_milestone(session, milestone, t.CHARGING, actor=actor)
    return payments.prepare_payment(
        session,
        customer=customer,
        subject=milestone_subject(milestone),
        purpose="deposit" if milestone.trigger == t.ON_ACCEPTANCE else "milestone",
        amount=Money(milestone.amount_minor, milestone.currency),
        payment_method_id=payment_method_id,
        capture_method="automatic",
        off_session=off_session,
        actor=actor,
    )


def latest_payment(session: Session, milestone: Milestone) -> Payment | None:
    """The milestone's newest payment attempt."""
    return session.scalar(
        select(Payment)
        .where(
            Payment.subject_type == SUBJECT,
            Payment.subject_id == str(milestone.id),
            Payment.freelancer_id == milestone.freelancer_id,
        )
        .order_by(Payment.id.desc())
    )


def on_payment_change(session: Session, payment: Payment, old: str, new: str) -> None:
    """Follow the milestone's payment: succeeded → paid; failed → payment_failed.

    Dunning (a separate module) subscribes to the same outcomes, or watches the
    `milestone_payment_failed` event, to chase the client.
    """
    milestone = session.scalar(
        select(Milestone).where(
            Milestone.id == int(payment.subject_id),
            Milestone.freelancer_id == payment.freelancer_id,
        )
    )
    if milestone is None:
        return
    data = {"payment_id": payment.id, "amount_minor": payment.amount_minor}
    if new == payments.SUCCEEDED and milestone.status in (t.CHARGING, t.PAYMENT_FAILED):
        milestone.paid_at = utcnow()
        milestone.paid_by = "card"
        # Its invoice follows: the invoices' ledger subscriber runs after this one.
        t.move_milestone(session, milestone, t.PAID, actor=events.STRIPE, data=data)
    elif milestone.status == t.CHARGING and (
        new in (payments.FAILED, payments.CANCELED)
        # Off session nobody is there to pass 3-D Secure: the client must come back.
        or (new == payments.REQUIRES_ACTION and payment.off_session)
    ):
        data.update(
            failure_code=payment.failure_code or new, failure_message=payment.failure_message
        )
        t.move_milestone(
            session,
            milestone,
            t.PAYMENT_FAILED,
            actor=events.STRIPE,
            action="milestone_payment_failed",
            data=data,
        )
