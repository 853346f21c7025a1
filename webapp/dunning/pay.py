"""The client's "fix my payment" flow: save a new card, pay the balance, 3-D Secure.

The flow that works on the fake server and real Stripe alike: the page
confirms a SetupIntent, then the server charges the saved card on-session;
if the bank wants 3-D Secure the page completes it and calls confirm again,
which then only reads the PaymentIntent's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from billing import cards, events, payments
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.errors import AlreadyDone, NotAllowed
from billing.gateway.port import PaymentGateway
from billing.locking import lock
from billing.models import CardSetup, Payment, PaymentCustomer
from billing.money import Money
from billing.payments import Subject
from webapp.dunning import service


@dataclass(frozen=True, slots=True)
class Confirmation:
    """`POST /public/pay/{token}/confirm`'s answer."""

    status: str  # paid | requires_action | failed
    payment_intent_client_secret: str | None = None


def _customer(session: Session, gateway: PaymentGateway, case: DunningCase) -> PaymentCustomer:
    if case.customer_id is not None:
        customer = session.get(PaymentCustomer, case.customer_id)
        if customer is not None and customer.stripe_customer_id:
            return customer
    customer = cards.ensure_customer(
        session,
        gateway,
        freelancer_id=case.freelancer_id,
        email=case.client_email,
        name=case.client_name,
    )
    case.customer_id = customer.id
    return customer


def setup_secret(session: Session, gateway: PaymentGateway, case: DunningCase) -> str:
    """The client secret of the case's open SetupIntent (a new one if the last was used)."""
    setup = session.get(CardSetup, case.card_setup_id) if case.card_setup_id else None
    if setup is not None and setup.status != "succeeded":
        return cards.client_secret(gateway, setup)
    customer = _customer(session, gateway, case)
    setup, secret = cards.start_card_setup(
        session, gateway, customer=customer, subject=Subject(engine.SUBJECT, case.id)
    )
    case.card_setup_id = setup.id
    session.flush()
    return secret


def _answer(gateway: PaymentGateway, payment: Payment) -> Confirmation:
    if payment.status == payments.SUCCEEDED:
        return Confirmation("paid")
    if payment.status == payments.REQUIRES_ACTION and payment.stripe_payment_intent_id:
        secret = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id).client_secret
        return Confirmation("requires_action", secret)
    return Confirmation("failed")


def confirm(
    session: Session, gateway: PaymentGateway, case_id: int, *, now: datetime
) -> Confirmation:
    """Charge the newly saved card for what is due, or read the outcome after 3-D Secure.

    Commits: the payment row before calling Stripe (ledger rule), then the outcome.
    """
    case = lock(session, DunningCase, case_id)
    assert case is not None
    if case.status == engine.PAID:
        session.commit()
        return Confirmation("paid")
    if case.status in engine.CLOSED:
        raise NotAllowed("this case is closed; nothing is due through this link")
    pending = session.get(Payment, case.link_payment_id) if case.link_payment_id else None
    if pending is not None and pending.status in (
        payments.REQUIRES_ACTION,
        payments.PROCESSING,
        payments.CREATED,
    ):
        payments.reconcile(session, gateway, pending.id, now=now)
        session.commit()
        return _answer(gateway, pending)
    if case.card_setup_id is None:
        raise NotAllowed("save a card first")
    setup = cards.complete_card_setup(session, gateway, case.card_setup_id)
    used = pending is not None and pending.payment_method_id == setup.payment_method_id
    if used:
        raise NotAllowed("this card was already tried; save another card")
    customer = session.get(PaymentCustomer, setup.customer_id)
    assert customer is not None
    return _charge(session, gateway, case, customer, setup.payment_method_id, now=now)


def retry_saved_card(
    session: Session, gateway: PaymentGateway, case_id: int, *, now: datetime
) -> Confirmation:
    """The client asks to try the card already on file again (funds added, bank called).

    Refused after a hard decline (a lost or stolen card must not be retried)
    and while an attempt is still under way. Commits like `confirm`.
    """
    case = lock(session, DunningCase, case_id)
    assert case is not None
    if case.status == engine.PAID:
        session.commit()
        return Confirmation("paid")
    if case.status in engine.CLOSED:
        raise NotAllowed("this case is closed; nothing is due through this link")
    if case.hard_decline or not case.payment_method_id or case.customer_id is None:
        raise NotAllowed("the card on file cannot be charged again; save another card")
    pending = session.get(Payment, case.link_payment_id) if case.link_payment_id else None
    if pending is not None and pending.status in (
        payments.REQUIRES_ACTION,
        payments.PROCESSING,
        payments.CREATED,
    ):
        payments.reconcile(session, gateway, pending.id, now=now)
        session.commit()
        return _answer(gateway, pending)
    customer = session.get(PaymentCustomer, case.customer_id)
    assert customer is not None
    return _charge(session, gateway, case, customer, case.payment_method_id, now=now)


def _charge(
    session: Session,
    gateway: PaymentGateway,
    case: DunningCase,
    customer: PaymentCustomer,
    payment_method_id: str,
    *,
    now: datetime,
) -> Confirmation:
    """Charge what is due with the client present (3-D Secure possible): the ledger's
    prepare → commit → execute."""
    due = service.amount_due(session, case)
    payment = payments.prepare_payment(
        session,
        customer=customer,
        subject=Subject(case.subject_type, case.subject_id),
        purpose=service.LINK_PURPOSE,
        amount=Money(due, case.currency),
        payment_method_id=payment_method_id,
        capture_method="automatic",
        off_session=False,
        actor=events.CLIENT,
    )
    case.link_payment_id = payment.id
    engine.record(
        session, case, "dunning_client_paying", actor=events.CLIENT, data={"payment_id": payment.id}
    )
    session.commit()
    try:
        payments.execute_payment(session, gateway, payment.id, now=now)
    except AlreadyDone:
        session.rollback()
    session.commit()
    return _answer(gateway, session.get(Payment, payment.id))
