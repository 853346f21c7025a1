"""The client's checkout of a paid question: after the card is saved, place the hold.

Who commits: `confirm_hold` is the use case and commits, as `billing.checkout`
does (the payment row before Stripe is called, then its answer); its view in
`webapp.messages.api` only answers. The question moves to `awaiting_answer`
through the ledger's subscriber in `webapp.messages.service`, here or later by
a 3-D Secure webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import cards, checkout, events, payments
from billing.gateway.port import PaymentGateway
from billing.locking import lock
from billing.models import Payment, PaymentCustomer
from billing.money import Money
from webapp.messages import service
from webapp.messages.models import Question

# A hold in these states is resumed, never placed again.
UNFINISHED = (payments.CREATED, payments.REQUIRES_ACTION, payments.PROCESSING)


@dataclass(frozen=True, slots=True)
class HoldOutcome:
    """What the client's page does next after confirming."""

    status: str  # awaiting_answer | requires_action | failed
    payment_intent_client_secret: str | None = None
    setup_intent_client_secret: str | None = None
    reason: str | None = None


def confirm_hold(
    session: Session, gateway: PaymentGateway, question_id: int, *, now: datetime
) -> HoldOutcome:
    """After the browser saved the card: place the hold, or resume the one under way; commits.

    The hold is a `billing.checkout` with the client on the page: authenticated
    now (3-D Secure if asked), captured only when the answer is sent. A hold
    already prepared or waiting for 3-D Secure is resumed, never placed twice.
    `NotAllowed` if the card is not saved yet.
    """
    question = _locked(session, question_id)
    if question.status != service.PENDING_PAYMENT:
        session.commit()
        return HoldOutcome(status=question.status)
    payment = session.get(Payment, question.payment_id) if question.payment_id else None
    if payment is None:
        outcome = _start_hold(session, gateway, question, now=now)
    elif payment.status in UNFINISHED:
        outcome = checkout.resume(session, gateway, payment.id, now=now)
    else:
        # Settled while the client was away (a webhook, the sweep): its answer stands.
        outcome = checkout.outcome(gateway, payment)
    question = _locked(session, question_id)
    # The ledger's subscriber (`service._on_payment`) moved it on an authorisation.
    if question.status != service.PENDING_PAYMENT:
        session.commit()
        return HoldOutcome(status=question.status)
    match outcome:
        case checkout.NeedsAction(client_secret=secret):
            session.commit()
            return HoldOutcome(status="requires_action", payment_intent_client_secret=secret)
        case checkout.Failed(payment_id=payment_id):
            return _hold_failed(session, gateway, question, payment_id)
    session.commit()
    return HoldOutcome(status="processing")


def _start_hold(
    session: Session, gateway: PaymentGateway, question: Question, *, now: datetime
) -> checkout.Outcome:
    assert question.card_setup_id is not None
    setup = cards.complete_card_setup(session, gateway, question.card_setup_id)
    assert setup.payment_method_id

    def link(payment: Payment) -> None:
        question.payment_id = payment.id

    return checkout.start(
        session,
        gateway,
        customer=_customer(session, setup.customer_id),
        subject=payments.Subject(service.SUBJECT, question.id),
        purpose=service.PURPOSE,
        amount=Money(question.amount_minor, question.currency),
        payment_method_id=setup.payment_method_id,
        capture_method="manual",
        link=link,
        now=now,
    )


def _hold_failed(
    session: Session, gateway: PaymentGateway, question: Question, payment_id: int
) -> HoldOutcome:
    """A declined card: a new SetupIntent, so the client may try another on the same question."""
    payment = session.get(Payment, payment_id)
    assert payment is not None
    reason = payment.failure_message or str(_l("The card was declined."))
    question_id = question.id
    setup, secret = cards.start_card_setup(
        session,
        gateway,
        customer=_customer(session, payment.customer_id),
        subject=payments.Subject(service.SUBJECT, question_id),
    )
    # The new card form and the end of the failed hold, in one commit: a
    # confirm racing this one sees either the failed hold or the new form.
    question = _locked(session, question_id)
    if question.payment_id == payment.id:
        question.card_setup_id = setup.id
        question.payment_id = None
        service.record(
            session,
            question,
            "message_payment_failed",
            actor=events.CLIENT,
            data={"payment_id": payment.id, "failure_code": payment.failure_code},
        )
    session.commit()
    return HoldOutcome(status="failed", setup_intent_client_secret=secret, reason=reason)


def _locked(session: Session, question_id: int) -> Question:
    question = lock(session, Question, question_id)
    if question is None:
        raise service.NotFound(question_id)
    return question


def _customer(session: Session, customer_id: int) -> PaymentCustomer:
    customer = session.get(PaymentCustomer, customer_id)
    assert customer is not None
    return customer
