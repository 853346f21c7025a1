"""Clients as Stripe customers, and cards saved with a SetupIntent.

The browser flow that works on the fake server and on real Stripe alike:
the page confirms a SetupIntent (`confirmCardSetup`); the server then reads
the saved payment method and charges or holds it (`billing.payments`).

Like the payment writes, these commit a row before calling Stripe and call
Stripe with no lock held: the caller must have nothing pending that it does
not mean to commit. Keys are stored nonces, never ids that a rollback could
hand to another row.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import events
from billing.errors import NotAllowed
from billing.gateway.port import SUCCEEDED, PaymentGateway, SetupIntentResult
from billing.ledger import Subject
from billing.locking import lock
from billing.models import CardSetup, PaymentCustomer

CUSTOMER_METADATA = "acompte_customer_id"


def _account(gateway: PaymentGateway) -> str | None:
    return getattr(gateway, "account_ref", None)


def _customer_row(
    session: Session, freelancer_id: int, email: str, name: str
) -> tuple[PaymentCustomer, bool]:
    """The client's row, made once even when two first uses race; and whether it is new."""
    query = select(PaymentCustomer).where(
        PaymentCustomer.freelancer_id == freelancer_id, PaymentCustomer.email == email
    )
    customer = session.scalar(query)
    if customer is not None:
        return customer, False
    try:
        with session.begin_nested():
            customer = PaymentCustomer(freelancer_id=freelancer_id, email=email, name=name)
            session.add(customer)
            session.flush()
    except IntegrityError:
        # Another request made it first (unique on the e-mail): theirs is the one.
        customer = session.scalar(query)
        assert customer is not None
        return customer, False
    return customer, True


def ensure_customer(
    session: Session, gateway: PaymentGateway, *, freelancer_id: int, email: str, name: str
) -> PaymentCustomer:
    """The freelancer's client with this e-mail, created at Stripe on first use; commits.

    A customer made on another Stripe account (the freelancer changed keys)
    means nothing to this one: a new one is made here. A create whose answer
    was lost is found again by its metadata instead of making a second one.
    """
    email = email.strip().lower()
    customer, new = _customer_row(session, freelancer_id, email, name)
    account = _account(gateway)
    if customer.stripe_customer_id and (
        account is None or customer.stripe_account in (None, account)
    ):
        if customer.stripe_account is None and account is not None:
            customer.stripe_account = account
        session.commit()
        return customer
    customer_id = customer.id
    session.commit()
    # An older row without a Stripe id may have lost the answer of its create.
    found = (
        None
        if new
        else gateway.find_customer(
            email=email, metadata_key=CUSTOMER_METADATA, metadata_value=str(customer_id)
        )
    )
    stripe_id = found or gateway.create_customer(
        email=email,
        name=name,
        idempotency_key=f"acompte:customer:{uuid.uuid4().hex}",
        metadata={CUSTOMER_METADATA: str(customer_id)},
    )
    customer = lock(session, PaymentCustomer, customer_id)
    assert customer is not None
    if not customer.stripe_customer_id or customer.stripe_account != account:
        customer.stripe_customer_id = stripe_id
        customer.stripe_account = account
    session.commit()
    return customer


def start_card_setup(
    session: Session, gateway: PaymentGateway, *, customer: PaymentCustomer, subject: Subject
) -> tuple[CardSetup, str]:
    """Open a SetupIntent for the client to save a card; returns it and its client secret.

    Commits the row, calls Stripe, commits the answer. A SetupIntent moves no
    money: one lost to a crash is simply never confirmed.
    """
    assert customer.stripe_customer_id
    setup = CardSetup(
        freelancer_id=customer.freelancer_id,
        customer_id=customer.id,
        subject_type=subject.type,
        subject_id=str(subject.id),
        stripe_account=customer.stripe_account,
        idempotency_key=f"acompte:card_setup:{uuid.uuid4().hex}",
    )
    session.add(setup)
    session.flush()
    events.record(
        session,
        subject_type=subject.type,
        subject_id=subject.id,
        action="card_setup_started",
        freelancer_id=customer.freelancer_id,
        actor=events.CLIENT,
        data={"card_setup_id": setup.id},
    )
    setup_id, stripe_customer = setup.id, customer.stripe_customer_id
    session.commit()
    result = gateway.create_setup_intent(
        customer_id=stripe_customer,
        idempotency_key=setup.idempotency_key,
        metadata={"acompte_card_setup_id": str(setup_id)},
    )
    setup = lock(session, CardSetup, setup_id)
    assert setup is not None
    setup.stripe_setup_intent_id = result.id
    setup.status = result.status
    session.commit()
    return setup, result.client_secret


def client_secret(gateway: PaymentGateway, setup: CardSetup) -> str:
    """The SetupIntent's client secret, read from Stripe (we do not store it)."""
    assert setup.stripe_setup_intent_id
    return gateway.retrieve_setup_intent(setup.stripe_setup_intent_id).client_secret


def complete_card_setup(session: Session, gateway: PaymentGateway, setup_id: int) -> CardSetup:
    """Record the saved card once the browser confirmed the SetupIntent (flushes).

    Stripe is read before the row is locked, so no lock waits on the network.
    `NotAllowed` if Stripe does not report it succeeded (the client must
    finish saving the card first).
    """
    setup = session.get(CardSetup, setup_id)
    if setup is None:
        raise NotAllowed(f"no card setup {setup_id}")
    if setup.status == SUCCEEDED and setup.payment_method_id:
        return setup
    if setup.stripe_setup_intent_id is None:
        raise NotAllowed("the card form is not ready yet; open it again")
    result: SetupIntentResult = gateway.retrieve_setup_intent(setup.stripe_setup_intent_id)
    card = (
        gateway.retrieve_card(result.payment_method_id)
        if result.status == SUCCEEDED and result.payment_method_id
        else None
    )
    setup = lock(session, CardSetup, setup_id)
    assert setup is not None
    if setup.status == SUCCEEDED and setup.payment_method_id:
        return setup
    setup.status = result.status
    if card is None:
        session.flush()
        raise NotAllowed(f"the card is not saved yet (SetupIntent is {result.status})")
    setup.payment_method_id = result.payment_method_id
    setup.card_brand = card.brand
    setup.card_last4 = card.last4
    session.flush()
    events.record(
        session,
        subject_type=setup.subject_type,
        subject_id=setup.subject_id,
        action="card_saved",
        freelancer_id=setup.freelancer_id,
        actor=events.CLIENT,
        data={"card_setup_id": setup.id, "brand": card.brand, "last4": card.last4},
    )
    return setup
