"""The client's checkout of a paid question: after the card is saved, place the hold.

Who commits: `confirm_hold` is the use case and commits, as `billing.checkout`
does (the payment row before Stripe is called, then its answer); its view in
`webapp.messages.api` only answers. The question moves to `awaiting_answer`
through the ledger's subscriber (`webapp.messages.subscriber`), here or later
by a 3-D Secure webhook.

No lock waits on the network: the saved card is read from Stripe before the
question is locked; the question is then locked and its state checked again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import cards, checkout, events, payments
from billing.errors import CardError, NotAllowed
from billing.gateway.port import PaymentGateway
from billing.models import CardSetup, Payment, PaymentCustomer
from billing.money import Money
from webapp.messages.models import Question
from webapp.messages.states import PENDING_PAYMENT, PURPOSE, SUBJECT, NotFound, locked, record

# How many times the card is read again when the card form changed meanwhile.
READS = 3


@dataclass(frozen=True, slots=True)
class HoldOutcome:
    """What the client's page does next after confirming."""

    status: str  # awaiting_answer | requires_action | failed
    payment_intent_client_secret: str | None = None
    setup_intent_client_secret: str | None = None
    reason: str | None = None


def confirm_hold(
    session: Session,
    gateway: PaymentGateway,
    question_id: int,
    *,
    now: datetime,
    payment_method_id: str | None = None,
) -> HoldOutcome:
    """After the browser saved the card: place the hold, or resume the one under way; commits.

    The hold is a `billing.checkout` with the client on the page: authenticated
    now (3-D Secure if asked), captured only when the answer is sent. A hold
    already prepared or waiting for 3-D Secure is resumed, never placed twice.
    `NotAllowed` if the card is not saved yet. `payment_method_id`: the card
    the page made (`createPaymentMethod`), attached and held with
    `setup_future_usage` — its 3-D Secure asked once, no SetupIntent.
    """
    if payment_method_id is not None:
        try:
            _give_card(session, gateway, question_id, payment_method_id)
        except CardError as declined:
            session.rollback()
            return HoldOutcome(status="failed", reason=str(declined))
    for _ in range(READS):
        setup = _read_card(session, gateway, question_id)
        question = locked(session, question_id)
        if question.status != PENDING_PAYMENT:
            session.commit()
            return HoldOutcome(status=question.status)
        payment = session.get(Payment, question.payment_id) if question.payment_id else None
        if payment is not None or setup is None or setup.id == question.card_setup_id:
            break
        # A new card form replaced the one read (a declined hold, racing this one).
        session.commit()
    else:
        raise NotAllowed("the card form changed; save the card again")
    if payment is None:
        assert setup is not None
        outcome = _start_hold(session, gateway, question, setup, now=now)
    elif payment.status in checkout.UNFINISHED:
        outcome = checkout.resume(session, gateway, payment.id, now=now)
    else:
        # Settled while the client was away (a webhook, the sweep): its answer stands.
        session.commit()
        outcome = checkout.outcome(gateway, payment)
    question = locked(session, question_id)
    # The ledger's subscriber (`subscriber.on_payment`) moved it on an authorisation.
    if question.status != PENDING_PAYMENT:
        session.commit()
        return HoldOutcome(status=question.status)
    match outcome:
        case checkout.NeedsAction(client_secret=secret):
            session.commit()
            return HoldOutcome(status="requires_action", payment_intent_client_secret=secret)
        case checkout.Failed(payment_id=payment_id):
            session.commit()
            return _hold_failed(session, gateway, question_id, payment_id)
    session.commit()
    return HoldOutcome(status="processing")


def _give_card(
    session: Session, gateway: PaymentGateway, question_id: int, payment_method_id: str
) -> None:
    """Attach the card the page made and point the question at it; commits. Nothing is
    locked during the Stripe call; ignored once the hold is under way."""
    question = session.get(Question, question_id)
    if question is None:
        raise NotFound(question_id)
    if question.status != PENDING_PAYMENT or question.payment_id is not None:
        return
    form = session.get(CardSetup, question.card_setup_id)
    assert form is not None
    setup = checkout.take_card(
        session,
        gateway,
        customer=_customer(session, form.customer_id),
        subject=payments.Subject(SUBJECT, question_id),
        payment_method_id=payment_method_id,
    )
    question = locked(session, question_id)
    if question.status == PENDING_PAYMENT and question.payment_id is None:
        question.card_setup_id = setup.id
    session.commit()


def _read_card(session: Session, gateway: PaymentGateway, question_id: int) -> CardSetup | None:
    """The saved card, as Stripe reports it, read before any lock; commits it.

    None when there is nothing to read: the question has left `pending_payment`
    or has a hold already (resumed under the lock instead).
    """
    question = session.get(Question, question_id)
    if question is None:
        raise NotFound(question_id)
    if question.status != PENDING_PAYMENT or question.payment_id is not None:
        return None
    assert question.card_setup_id is not None
    setup = cards.complete_card_setup(session, gateway, question.card_setup_id)
    session.commit()
    return setup


def _start_hold(
    session: Session,
    gateway: PaymentGateway,
    question: Question,
    setup: CardSetup,
    *,
    now: datetime,
) -> checkout.Outcome:
    assert setup.payment_method_id

    def link(payment: Payment) -> None:
        question.payment_id = payment.id

    return checkout.start(
        session,
        gateway,
        customer=_customer(session, setup.customer_id),
        subject=payments.Subject(SUBJECT, question.id),
        purpose=PURPOSE,
        amount=Money(question.amount_minor, question.currency),
        payment_method_id=setup.payment_method_id,
        capture_method="manual",
        link=link,
        now=now,
        setup_future_usage=checkout.future_usage(setup),
    )


def _hold_failed(
    session: Session, gateway: PaymentGateway, question_id: int, payment_id: int
) -> HoldOutcome:
    """A declined card: a new SetupIntent, so the client may try another on the same question."""
    payment = session.get(Payment, payment_id)
    assert payment is not None
    reason = payment.failure_message or str(_l("The card was declined."))
    setup, secret = cards.start_card_setup(
        session,
        gateway,
        customer=_customer(session, payment.customer_id),
        subject=payments.Subject(SUBJECT, question_id),
    )
    # The new card form and the end of the failed hold, in one commit: a
    # confirm racing this one sees either the failed hold or the new form.
    question = locked(session, question_id)
    if question.payment_id == payment.id:
        question.card_setup_id = setup.id
        question.payment_id = None
        record(
            session,
            question,
            "message_payment_failed",
            actor=events.CLIENT,
            data={"payment_id": payment.id, "failure_code": payment.failure_code},
        )
    session.commit()
    return HoldOutcome(status="failed", setup_intent_client_secret=secret, reason=reason)


def _customer(session: Session, customer_id: int) -> PaymentCustomer:
    customer = session.get(PaymentCustomer, customer_id)
    assert customer is not None
    return customer
