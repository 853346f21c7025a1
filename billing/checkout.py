"""One checkout for every flow where the client is on the page.

A booking's payment, a quote's deposit, a paid question's hold and the
fix-my-payment link all do the same thing once the card is saved: charge or
hold it, and tell the page what happened — paid, 3-D Secure to complete, or
failed. They do it here, through the ledger's phased writes:

    outcome = checkout.start(session, gateway, customer=..., subject=..., ...)
    match outcome:
        case checkout.Paid(): ...
        case checkout.NeedsAction(client_secret=secret): ...  # confirmCardPayment
        case checkout.Failed(code=code, message=message): ...
        case checkout.Pending(): ...  # an answer still on its way: ask again

and, when the client comes back (after 3-D Secure, or after a lost answer),
`checkout.resume(session, gateway, payment_id)` — never a second `start`.

One 3-D Secure. Where money moves at once, the page makes the card a
PaymentMethod (`stripe.createPaymentMethod`) instead of confirming a
SetupIntent; `take_card` attaches it to the customer and records it, and
`start(..., setup_future_usage="off_session")` charges it while asking Stripe
to keep it, authenticated by this very payment, for the later off-session
charges (a balance, a milestone, a hold placed later). A SetupIntent would
ask 3-D Secure for the setup, then the payment would ask again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from billing.errors import AlreadyDone, CardError, GatewayRejected
from billing.gateway.port import CaptureMethod, PaymentGateway, SetupFutureUsage
from billing.ledger import (
    AUTHORIZED,
    CANCELED,
    FAILED,
    REQUIRES_ACTION,
    SUCCEEDED,
    UNFINISHED,
    Subject,
)
from billing.models import CardSetup, Payment, PaymentCustomer
from billing.money import Money
from billing.payments import execute_payment, prepare_payment, reconcile


@dataclass(frozen=True, slots=True)
class Paid:
    """The money is secured: captured (`succeeded`) or held (`authorized`)."""

    payment_id: int
    status: str


@dataclass(frozen=True, slots=True)
class NeedsAction:
    """The bank asks for 3-D Secure: the page calls `confirmCardPayment(client_secret)`."""

    payment_id: int
    client_secret: str


@dataclass(frozen=True, slots=True)
class Failed:
    """Declined, authentication failed, or refused by Stripe: save another card."""

    payment_id: int
    code: str
    message: str
    hard: bool = False

    @property
    def authentication_failed(self) -> bool:
        """The client failed (or abandoned) 3-D Secure, rather than the card being declined."""
        return self.code.startswith("payment_intent_authentication")


@dataclass(frozen=True, slots=True)
class Pending:
    """Stripe's answer is not in yet (processing, or an answer lost on its way)."""

    payment_id: int


Outcome = Paid | NeedsAction | Failed | Pending

__all__ = [
    "UNFINISHED",
    "Failed",
    "NeedsAction",
    "Outcome",
    "Paid",
    "Pending",
    "future_usage",
    "outcome",
    "resume",
    "start",
    "take_card",
]


def start(
    session: Session,
    gateway: PaymentGateway,
    *,
    customer: PaymentCustomer,
    subject: Subject,
    purpose: str,
    amount: Money,
    payment_method_id: str,
    capture_method: CaptureMethod,
    off_session: bool = False,
    actor: str = events.CLIENT,
    link: Callable[[Payment], None] | None = None,
    now: datetime | None = None,
    setup_future_usage: SetupFutureUsage | None = None,
) -> Outcome:
    """Charge (`automatic`) or hold (`manual`) a saved card; commits.

    `link(payment)` runs before the payment row is committed, so the flow's
    own row (booking, acceptance, question, case) points at it in the same
    commit. A lost answer (`GatewayUnavailable`) propagates: the payment is in
    doubt, and `resume` or the sweep finds out what Stripe did.
    `setup_future_usage="off_session"` (a card from `take_card`): the payment
    also saves the card for off-session charges; stored on the row, so a
    create redone after a lost answer asks the same.
    """
    payment = prepare_payment(
        session,
        customer=customer,
        subject=subject,
        purpose=purpose,
        amount=amount,
        payment_method_id=payment_method_id,
        capture_method=capture_method,
        off_session=off_session,
        actor=actor,
        setup_future_usage=setup_future_usage,
    )
    if link is not None:
        link(payment)
    session.commit()
    payment_id = payment.id
    try:
        payment = execute_payment(session, gateway, payment_id, now=now or utcnow())
    except AlreadyDone:
        # Another request got there first (a double click): its answer is on the row.
        session.rollback()
        found = session.get(Payment, payment_id)
        assert found is not None
        payment = found
    return outcome(gateway, payment)


def take_card(
    session: Session,
    gateway: PaymentGateway,
    *,
    customer: PaymentCustomer,
    subject: Subject,
    payment_method_id: str,
) -> CardSetup:
    """Attach a card the page made (`createPaymentMethod`) to the customer and record it; commits.

    Call it with nothing locked: Stripe is called with no transaction open.
    Attaching the same card to the same customer again changes nothing at
    Stripe, so a client coming back after we died between the attach and our
    commit simply attaches it again; a card recorded already is returned as
    it is. The row is a `CardSetup` without a SetupIntent (status
    `succeeded`): the card is saved for later off-session charges by the
    payment that `start` makes with `setup_future_usage="off_session"`.
    A card the bank refuses at once, or that Stripe does not know for this
    customer, raises `CardError`.
    """
    assert customer.stripe_customer_id
    query = select(CardSetup).where(
        CardSetup.customer_id == customer.id,
        CardSetup.subject_type == subject.type,
        CardSetup.subject_id == str(subject.id),
        CardSetup.payment_method_id == payment_method_id,
        CardSetup.status == SUCCEEDED,
    )
    found = session.scalar(query)
    if found is not None:
        session.commit()
        return found
    customer_id, stripe_customer = customer.id, customer.stripe_customer_id
    freelancer_id, account = customer.freelancer_id, customer.stripe_account
    session.commit()
    try:
        card = gateway.attach_payment_method(
            payment_method_id,
            customer_id=stripe_customer,
            # The same key for the same card and client: a repeat is a replay.
            idempotency_key=f"acompte:attach:{customer_id}:{payment_method_id}",
        )
    except GatewayRejected as refused:
        # No such PaymentMethod, another client's, not a card: this card cannot pay.
        raise CardError(
            str(refused), stripe_code=refused.stripe_code or "invalid_payment_method"
        ) from refused
    setup = CardSetup(
        freelancer_id=freelancer_id,
        customer_id=customer_id,
        subject_type=subject.type,
        subject_id=str(subject.id),
        stripe_account=account,
        idempotency_key=f"acompte:card_given:{uuid.uuid4().hex}",
        status=SUCCEEDED,
        payment_method_id=payment_method_id,
        card_brand=card.brand,
        card_last4=card.last4,
    )
    session.add(setup)
    session.flush()
    events.record(
        session,
        subject_type=subject.type,
        subject_id=subject.id,
        action="card_saved",
        freelancer_id=freelancer_id,
        actor=events.CLIENT,
        data={
            "card_setup_id": setup.id,
            "brand": card.brand,
            "last4": card.last4,
            "with_payment": True,
        },
    )
    session.commit()
    return setup


def future_usage(setup: CardSetup | None) -> SetupFutureUsage | None:
    """`off_session` for a card given with the payment (no SetupIntent): the payment keeps it,
    as a SetupIntent would have, for the charges made later without the client."""
    if setup is not None and setup.stripe_setup_intent_id is None and setup.payment_method_id:
        return "off_session"
    return None


def resume(
    session: Session, gateway: PaymentGateway, payment_id: int, *, now: datetime | None = None
) -> Outcome:
    """The client is back (after 3-D Secure, or a lost answer): Stripe's state; commits."""
    payment = reconcile(session, gateway, payment_id, now=now or utcnow(), client_present=True)
    return outcome(gateway, payment)


def outcome(gateway: PaymentGateway, payment: Payment) -> Outcome:
    """What the page must do next for this payment."""
    if payment.status in (SUCCEEDED, AUTHORIZED):
        return Paid(payment.id, payment.status)
    if payment.status == REQUIRES_ACTION and payment.stripe_payment_intent_id:
        secret = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id).client_secret
        return NeedsAction(payment.id, secret)
    if payment.status in (FAILED, CANCELED):
        return Failed(
            payment.id,
            payment.failure_code or ("canceled" if payment.status == CANCELED else "card_declined"),
            payment.failure_message or "The card was declined.",
            payment.hard_decline,
        )
    return Pending(payment.id)
