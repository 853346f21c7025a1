"""Clients as Stripe customers, and cards saved with a SetupIntent.

The browser flow that works on the fake server and on real Stripe alike:
the page confirms a SetupIntent (`confirmCardSetup`); the server then reads
the saved payment method and charges or holds it (`billing.payments`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.errors import NotAllowed
from billing.gateway.port import SUCCEEDED, PaymentGateway, SetupIntentResult
from billing.locking import lock
from billing.models import CardSetup, PaymentCustomer
from billing.payments import Subject


def ensure_customer(
    session: Session, gateway: PaymentGateway, *, freelancer_id: int, email: str, name: str
) -> PaymentCustomer:
    """The freelancer's client with this e-mail, created at Stripe on first use."""
    email = email.strip().lower()
    customer = session.scalar(
        select(PaymentCustomer).where(
            PaymentCustomer.freelancer_id == freelancer_id, PaymentCustomer.email == email
        )
    )
    if customer is None:
        customer = PaymentCustomer(freelancer_id=freelancer_id, email=email, name=name)
        session.add(customer)
        session.flush()
    if customer.stripe_customer_id is None:
        customer.stripe_customer_id = gateway.create_customer(
            email=email,
            name=name,
            idempotency_key=f"acompte:customer:{customer.id}:create",
            metadata={"acompte_customer_id": str(customer.id)},
        )
        session.flush()
    return customer


def start_card_setup(
    session: Session, gateway: PaymentGateway, *, customer: PaymentCustomer, subject: Subject
) -> tuple[CardSetup, str]:
    """Open a SetupIntent for the client to save a card; returns it and its client secret."""
    setup = CardSetup(
        freelancer_id=customer.freelancer_id,
        customer_id=customer.id,
        subject_type=subject.type,
        subject_id=str(subject.id),
        idempotency_key=f"pending:{uuid.uuid4()}",
    )
    session.add(setup)
    session.flush()
    setup.idempotency_key = f"acompte:card_setup:{setup.id}:create"
    assert customer.stripe_customer_id
    result = gateway.create_setup_intent(
        customer_id=customer.stripe_customer_id,
        idempotency_key=setup.idempotency_key,
        metadata={"acompte_card_setup_id": str(setup.id)},
    )
    setup.stripe_setup_intent_id = result.id
    setup.status = result.status
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
    return setup, result.client_secret


def client_secret(gateway: PaymentGateway, setup: CardSetup) -> str:
    """The SetupIntent's client secret, read from Stripe (we do not store it)."""
    assert setup.stripe_setup_intent_id
    return gateway.retrieve_setup_intent(setup.stripe_setup_intent_id).client_secret


def complete_card_setup(session: Session, gateway: PaymentGateway, setup_id: int) -> CardSetup:
    """Record the saved card once the browser confirmed the SetupIntent.

    `NotAllowed` if Stripe does not report it succeeded (the client must
    finish saving the card first).
    """
    setup = lock(session, CardSetup, setup_id)
    if setup is None:
        raise NotAllowed(f"no card setup {setup_id}")
    if setup.status == SUCCEEDED and setup.payment_method_id:
        return setup
    assert setup.stripe_setup_intent_id
    result: SetupIntentResult = gateway.retrieve_setup_intent(setup.stripe_setup_intent_id)
    setup.status = result.status
    if result.status != SUCCEEDED or not result.payment_method_id:
        session.flush()
        raise NotAllowed(f"the card is not saved yet (SetupIntent is {result.status})")
    card = gateway.retrieve_card(result.payment_method_id)
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
