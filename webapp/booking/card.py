"""The client's card for a booking: open a SetupIntent, then read the card the browser saved;
or take the card the page made with the payment (`give_card`, one 3-D Secure).

Stripe is never called while the booking is locked. `billing.cards` commits
its own rows around each Stripe call; the booking is locked only afterwards,
to check it still takes a card and to point it at the setup (flushed, the
caller commits). Reading the saved card (`read_saved_card`) happens before
the caller locks the booking; under the lock `take_saved_card` only looks
at what was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from billing import cards, checkout
from billing.errors import NotAllowed
from billing.gateway.port import SUCCEEDED, PaymentGateway
from billing.models import CardSetup, PaymentCustomer
from webapp.booking.lifecycle import lock_booking, subject
from webapp.booking.models import ACTIVE, Booking


def client_customer(session: Session, gateway: PaymentGateway, booking: Booking) -> PaymentCustomer:
    """The booking's client as a Stripe customer (made at Stripe on first use); commits."""
    return cards.ensure_customer(
        session,
        gateway,
        freelancer_id=booking.freelancer_id,
        email=booking.client_email,
        name=booking.client_name,
    )


def open_card_setup(session: Session, gateway: PaymentGateway, booking: Booking) -> str:
    """The client's Stripe customer and a SetupIntent for a claimed booking; its client secret.

    Commits (the customer and card setup rows, around each Stripe call), then
    locks the booking: `NotAllowed` if it closed meanwhile, else its ids are
    set (flushed, the caller commits). Gateway errors propagate.
    """
    booking_id = booking.id
    customer = client_customer(session, gateway, booking)
    setup, secret = cards.start_card_setup(
        session, gateway, customer=customer, subject=subject(booking)
    )
    customer_id, setup_id = customer.id, setup.id
    booking = lock_booking(session, booking_id)
    if booking.status not in ACTIVE:
        raise NotAllowed(f"booking {booking.id} is {booking.status}")
    booking.customer_id = customer_id
    booking.card_setup_id = setup_id
    session.flush()
    return secret


def new_card_setup(session: Session, gateway: PaymentGateway, booking: Booking) -> str:
    """A fresh SetupIntent for this booking (another card, fixing a failed one, or the
    first one when Stripe failed right after the claim)."""
    if booking.status not in ACTIVE:
        raise NotAllowed(f"booking {booking.id} is {booking.status}")
    return open_card_setup(session, gateway, booking)


def give_card(
    session: Session, gateway: PaymentGateway, booking: Booking, payment_method_id: str
) -> Booking:
    """The card the page made (`createPaymentMethod`), attached and put on the booking; commits.

    For the checkouts that charge or hold at once: the payment that follows
    saves the card for later (`setup_future_usage`), so no SetupIntent asks
    3-D Secure first. Stripe is called with the booking unlocked; the booking
    is locked afterwards to check it still takes a card. `NotAllowed` if it
    closed meanwhile; `CardError` if the bank refuses the card at once.
    """
    booking_id = booking.id
    customer = client_customer(session, gateway, booking)
    setup = checkout.take_card(
        session,
        gateway,
        customer=customer,
        subject=subject(booking),
        payment_method_id=payment_method_id,
    )
    customer_id, setup_id = customer.id, setup.id
    booking = lock_booking(session, booking_id)
    if booking.status not in ACTIVE:
        session.commit()
        raise NotAllowed(f"booking {booking.id} is {booking.status}")
    booking.customer_id = customer_id
    booking.card_setup_id = setup_id
    session.commit()
    return booking


@dataclass(frozen=True, slots=True)
class CardRead:
    """What Stripe said of the booking's card setup, read before the booking was locked."""

    card_setup_id: int | None
    refusal: NotAllowed | None = None


def read_saved_card(session: Session, gateway: PaymentGateway, booking: Booking) -> CardRead:
    """Ask Stripe for the card the browser saved and record it on the card setup; commits.

    Call it with the booking *not* locked: `billing.cards` reads Stripe first,
    then locks only the card setup row. A card not saved yet is not an error
    here: the refusal is kept for `take_saved_card` to raise once the booking
    is locked and its state re-checked.
    """
    assert booking.card_setup_id is not None
    setup_id = booking.card_setup_id
    try:
        cards.complete_card_setup(session, gateway, setup_id)
    except NotAllowed as refusal:
        session.commit()
        return CardRead(setup_id, refusal)
    session.commit()
    return CardRead(setup_id)


def card_on_file(session: Session, booking: Booking) -> CardSetup | None:
    """The booking's card setup if its card is recorded as saved (no Stripe call)."""
    if booking.card_setup_id is None:
        return None
    setup = session.get(CardSetup, booking.card_setup_id)
    if setup is None or setup.status != SUCCEEDED or not setup.payment_method_id:
        return None
    return setup


def take_saved_card(session: Session, booking: Booking, read: CardRead) -> CardSetup:
    """Under the booking's lock: put the saved card on the booking, or raise why not.

    `NotAllowed` (Stripe's refusal from `read`) if the card is not saved yet.
    """
    if booking.card_setup_id is None:
        raise NotAllowed("the card form is not ready yet; open it again")
    setup = card_on_file(session, booking)
    if setup is None:
        raise read.refusal or NotAllowed("the card is not saved yet")
    if booking.payment_method_id != setup.payment_method_id:
        booking.payment_method_id = setup.payment_method_id
        session.flush()
    return setup
