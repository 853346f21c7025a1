"""The client's "fix my payment" flow: save a new card, pay the balance, 3-D Secure.

The flow that works on the fake server and real Stripe alike: the page makes
the card a PaymentMethod and sends it with confirm (or, as before, confirms a
SetupIntent first), then the server charges the card on-session;
if the bank wants 3-D Secure the page completes it and calls confirm again,
which then only resumes the payment under way (`billing.checkout.resume`).

Who commits: `confirm`, `retry_saved_card` and `setup_secret` are the use
cases and commit (through `billing.checkout` and `billing.cards`); their views
in `webapp.dunning.api` only answer. No lock waits on the network: Stripe is
read before the case is locked, and the case's lock is let go before a
payment's (the ledger locks the payment's subject first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from billing import cards, checkout, events
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.errors import CardError, NotAllowed
from billing.gateway.port import PaymentGateway, SetupFutureUsage
from billing.locking import lock
from billing.models import CardSetup, Payment, PaymentCustomer
from billing.money import Money
from billing.payments import Subject
from webapp.dunning.cases import LINK_PURPOSE, amount_due

# How many times the card is read again when the card form changed meanwhile.
READS = 3


@dataclass(frozen=True, slots=True)
class Confirmation:
    """`POST /public/pay/{token}/confirm`'s answer."""

    status: str  # paid | requires_action | failed
    payment_intent_client_secret: str | None = None


def _customer(session: Session, gateway: PaymentGateway, case: DunningCase) -> PaymentCustomer:
    """The client as a Stripe customer (made on first use, which commits)."""
    if case.customer_id is not None:
        customer = session.get(PaymentCustomer, case.customer_id)
        if customer is not None and customer.stripe_customer_id:
            return customer
    return cards.ensure_customer(
        session,
        gateway,
        freelancer_id=case.freelancer_id,
        email=case.client_email,
        name=case.client_name,
    )


def setup_secret(session: Session, gateway: PaymentGateway, case_id: int) -> str:
    """The client secret of the case's open SetupIntent (a new one if the last was used); commits.

    Stripe is called with no lock held; the case is locked only to record the
    new card form.
    """
    case = session.get(DunningCase, case_id)
    assert case is not None
    setup = session.get(CardSetup, case.card_setup_id) if case.card_setup_id else None
    if setup is not None and setup.status != "succeeded":
        session.commit()
        return cards.client_secret(gateway, setup)
    customer = _customer(session, gateway, case)
    setup, secret = cards.start_card_setup(
        session, gateway, customer=customer, subject=Subject(engine.SUBJECT, case_id)
    )
    case = lock(session, DunningCase, case_id)
    assert case is not None
    case.customer_id = customer.id
    case.card_setup_id = setup.id
    session.commit()
    return secret


def _answer(outcome: checkout.Outcome) -> Confirmation:
    match outcome:
        case checkout.Paid():
            return Confirmation("paid")
        case checkout.NeedsAction(client_secret=secret):
            return Confirmation("requires_action", secret)
    # Declined, or an answer still on its way: the page offers another card.
    return Confirmation("failed")


def _unfinished(session: Session, case: DunningCase) -> Payment | None:
    """The link payment still under way (3-D Secure, processing, an answer lost), if any."""
    pending = session.get(Payment, case.link_payment_id) if case.link_payment_id else None
    return pending if pending is not None and pending.status in checkout.UNFINISHED else None


def _resume_or_open(
    session: Session, gateway: PaymentGateway, case_id: int, *, now: datetime
) -> tuple[DunningCase, Confirmation | None]:
    """The case, locked; and the answer when there is nothing new to charge.

    Paid already, or a link payment still under way: that payment is resumed
    (after the case's lock is let go: the ledger locks the payment's subject
    first), never made a second time.
    """
    case = lock(session, DunningCase, case_id)
    assert case is not None
    if case.status == engine.PAID:
        session.commit()
        return case, Confirmation("paid")
    if case.status in engine.CLOSED:
        raise NotAllowed("this case is closed; nothing is due through this link")
    pending = _unfinished(session, case)
    if pending is not None:
        pending_id = pending.id
        session.commit()
        return case, _answer(checkout.resume(session, gateway, pending_id, now=now))
    return case, None


def _read_card(session: Session, gateway: PaymentGateway, case_id: int) -> CardSetup | None:
    """The newly saved card, as Stripe reports it, read before the case is locked; commits.

    None when confirming will not charge a new card (closed, or a payment
    under way); `NotAllowed` if the card is not saved yet.
    """
    case = session.get(DunningCase, case_id)
    assert case is not None
    if case.card_setup_id is None or case.status in engine.CLOSED or _unfinished(session, case):
        return None
    setup = cards.complete_card_setup(session, gateway, case.card_setup_id)
    session.commit()
    return setup


def confirm(
    session: Session,
    gateway: PaymentGateway,
    case_id: int,
    *,
    now: datetime,
    payment_method_id: str | None = None,
) -> Confirmation:
    """Charge the newly saved card for what is due, or read the outcome after 3-D Secure.

    Commits, through `billing.checkout` (the payment row before Stripe is called,
    then its answer). The card is read from Stripe first, then the case is
    locked and checked again. `payment_method_id`: the card the page made
    (`createPaymentMethod`), attached first and charged with
    `setup_future_usage` — its 3-D Secure asked once, no SetupIntent.
    """
    if payment_method_id is not None:
        try:
            _give_card(session, gateway, case_id, payment_method_id)
        except CardError:
            session.rollback()
            return Confirmation("failed")
    for _ in range(READS):
        setup = _read_card(session, gateway, case_id)
        case, answer = _resume_or_open(session, gateway, case_id, now=now)
        if answer is not None:
            return answer
        if case.card_setup_id is None:
            raise NotAllowed("save a card first")
        if setup is not None and setup.id == case.card_setup_id:
            break
        # The case changed while Stripe was read (a new card form): read it again.
        session.commit()
    else:
        raise NotAllowed("the card form changed; save the card again")
    last = session.get(Payment, case.link_payment_id) if case.link_payment_id else None
    if last is not None and last.payment_method_id == setup.payment_method_id:
        raise NotAllowed("this card was already tried; save another card")
    customer = session.get(PaymentCustomer, setup.customer_id)
    assert customer is not None and setup.payment_method_id
    return _charge(
        session,
        gateway,
        case,
        customer,
        setup.payment_method_id,
        now=now,
        setup_future_usage=checkout.future_usage(setup),
    )


def _give_card(
    session: Session, gateway: PaymentGateway, case_id: int, payment_method_id: str
) -> None:
    """Attach the card the page made and make it the case's card form; commits. Nothing is
    locked during the Stripe calls; ignored when nothing new would be charged."""
    case = session.get(DunningCase, case_id)
    assert case is not None
    if case.status in engine.CLOSED or _unfinished(session, case):
        return
    customer = _customer(session, gateway, case)
    setup = checkout.take_card(
        session,
        gateway,
        customer=customer,
        subject=Subject(engine.SUBJECT, case_id),
        payment_method_id=payment_method_id,
    )
    case = lock(session, DunningCase, case_id)
    assert case is not None
    if case.status not in engine.CLOSED and not _unfinished(session, case):
        case.customer_id = customer.id
        case.card_setup_id = setup.id
    session.commit()


def retry_saved_card(
    session: Session, gateway: PaymentGateway, case_id: int, *, now: datetime
) -> Confirmation:
    """The client asks to try the card already on file again (funds added, bank called).

    Refused after a hard decline (a lost or stolen card must not be retried);
    an attempt still under way is resumed instead. Commits like `confirm`.
    """
    case, answer = _resume_or_open(session, gateway, case_id, now=now)
    if answer is not None:
        return answer
    if case.hard_decline or not case.payment_method_id or case.customer_id is None:
        raise NotAllowed("the card on file cannot be charged again; save another card")
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
    setup_future_usage: SetupFutureUsage | None = None,
) -> Confirmation:
    """Charge what is due with the client present (3-D Secure possible); commits."""

    def link(payment: Payment) -> None:
        case.link_payment_id = payment.id
        engine.record(
            session,
            case,
            "dunning_client_paying",
            actor=events.CLIENT,
            data={"payment_id": payment.id},
        )

    outcome = checkout.start(
        session,
        gateway,
        customer=customer,
        subject=Subject(case.subject_type, case.subject_id),
        purpose=LINK_PURPOSE,
        amount=Money(amount_due(session, case), case.currency),
        payment_method_id=payment_method_id,
        capture_method="automatic",
        link=link,
        now=now,
        setup_future_usage=setup_future_usage,
    )
    return _answer(outcome)
