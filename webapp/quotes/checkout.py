"""The client's checkout of a quote: sign, save the card, accept and pay the deposit.

Who commits: `start_acceptance` commits the Stripe customer and the
SetupIntent as `billing.cards` does (a SetupIntent moves no money), and its
view commits the signature. `confirm` is the use case that moves money, and
it COMMITS, as `billing.checkout` does: the saved card read from Stripe
first, with no row locked; then, under the quote's lock, the acceptance
together with the first deposit's payment row; then Stripe's answer. Its view
only reads what it left. Later milestones are charged off session by the due
runner (`webapp.quotes.due`), not here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import cards, checkout, events
from billing.db import utcnow
from billing.errors import CardError, GatewayError, NotAllowed
from billing.gateway.port import SUCCEEDED, PaymentGateway
from billing.locking import lock
from billing.models import CardSetup, PaymentCustomer
from billing.money import Money
from billing.payments import Subject
from webapp.quotes import transitions as t
from webapp.quotes.errors import QuoteError
from webapp.quotes.ledger import latest_payment, milestone_subject, saved_card
from webapp.quotes.lookups import milestones_of, version_of
from webapp.quotes.models import Milestone, Quote, QuoteAcceptance
from webapp.quotes.sending import check_open


def start_acceptance(
    session: Session,
    gateway: PaymentGateway,
    quote: Quote,
    *,
    signer_name: str,
    ip: str,
    user_agent: str,
    now: datetime | None = None,
) -> tuple[QuoteAcceptance, str]:
    """The client signs the current version; a SetupIntent is opened to save their card.

    Returns the pending acceptance and the SetupIntent's client secret. The
    customer and the SetupIntent are committed around their Stripe calls (no
    lock is held during them); the acceptance is only flushed.
    """
    now = now or utcnow()
    check_open(session, quote, now)
    version = version_of(session, quote)
    customer = cards.ensure_customer(
        session,
        gateway,
        freelancer_id=quote.freelancer_id,
        email=quote.client_email,
        name=quote.client_name,
    )
    setup, secret = cards.start_card_setup(
        session, gateway, customer=customer, subject=Subject("quote", quote.id)
    )
    acceptance = QuoteAcceptance(
        quote_id=quote.id,
        freelancer_id=quote.freelancer_id,
        version_number=version.number,
        content_sha256=version.content_sha256,
        signer_name=signer_name.strip(),
        terms_accepted=True,
        signed_at=now,
        ip=ip[:64],
        user_agent=user_agent[:500],
        card_setup_id=setup.id,
        status="pending",
    )
    session.add(acceptance)
    session.flush()
    events.record(
        session,
        subject_type="quote",
        subject_id=quote.id,
        action="quote_signed",
        actor=events.CLIENT,
        freelancer_id=quote.freelancer_id,
        data={
            "acceptance_id": acceptance.id,
            "signer_name": acceptance.signer_name,
            "version": version.number,
            "content_sha256": version.content_sha256,
            "ip": acceptance.ip,
            "user_agent": acceptance.user_agent,
        },
    )
    return acceptance, secret


def confirm(
    session: Session,
    gateway: PaymentGateway,
    quote_id: int,
    *,
    acceptance_id: int | None,
    payment_method_id: str | None = None,
    now: datetime | None = None,
) -> checkout.NeedsAction | None:
    """The card is saved (or given, `payment_method_id`): accept the quote, pay its deposit(s).

    Commits. A card given with the confirm (`card_step` `payment`: a quote
    with a deposit) is attached and recorded first (`give_card`), and the
    deposit saves it for the later milestones — one 3-D Secure.

    Returns the 3-D Secure the page must complete (then call again), or None.
    The saved card is read from Stripe first, with no row locked; then, under
    the quote's row lock, the state is checked again, so two confirmations
    racing give one acceptance and one deposit: the second sees `accepted`
    and only resumes the deposit under way. A deposit whose Stripe answer was
    lost is left in doubt (the milestone stays `charging`): calling again, or
    the sweep, finds out what Stripe did.
    """
    now = now or utcnow()
    if payment_method_id is not None:
        give_card(session, gateway, quote_id, acceptance_id, payment_method_id)
    not_saved = _read_saved_card(session, gateway, quote_id, acceptance_id)
    quote = lock(session, Quote, quote_id)
    assert quote is not None
    if quote.status != t.ACCEPTED:
        _accept(session, quote, acceptance_id, now, not_saved)
    deposits = [m.id for m in milestones_of(session, quote) if m.trigger == t.ON_ACCEPTANCE]
    action = None
    for milestone_id in deposits:
        try:
            outcome = _pay_deposit(session, gateway, quote, milestone_id, now)
        except GatewayError:
            session.rollback()
            continue
        if action is None and isinstance(outcome, checkout.NeedsAction):
            action = outcome
    session.commit()
    return action


def charges_at_acceptance(session: Session, quote: Quote) -> bool:
    """Whether accepting charges a deposit at once (else the card is only saved)."""
    return any(
        m.trigger == t.ON_ACCEPTANCE and m.amount_minor > 0 for m in milestones_of(session, quote)
    )


def card_step(session: Session, quote: Quote) -> str:
    """How the page takes the card: `payment` (a PaymentMethod sent with the confirm, one
    3-D Secure, when a deposit is charged at once) or `setup` (the SetupIntent)."""
    return "payment" if charges_at_acceptance(session, quote) else "setup"


def give_card(
    session: Session,
    gateway: PaymentGateway,
    quote_id: int,
    acceptance_id: int | None,
    payment_method_id: str,
) -> None:
    """Attach the card the page made and put it on the pending signature; commits.

    Nothing is locked during the Stripe call; the acceptance is locked after.
    Ignored once the quote is accepted (a call again after 3-D Secure).
    """
    quote = session.get(Quote, quote_id)
    acceptance = _pending_acceptance(session, quote_id, acceptance_id)
    if quote is None or quote.status == t.ACCEPTED or acceptance is None:
        return
    if not charges_at_acceptance(session, quote):
        raise QuoteError(
            409,
            "Nothing is charged when this quote is accepted: save the card with the card "
            "form (setup_intent_client_secret) instead.",
            code="not_allowed",
        )
    signed = session.get(CardSetup, acceptance.card_setup_id) if acceptance.card_setup_id else None
    if signed is None:
        raise QuoteError(409, "Sign the quote first.", code="card_not_saved")
    customer = session.get(PaymentCustomer, signed.customer_id)
    assert customer is not None
    accepting_id = acceptance.id
    try:
        setup = checkout.take_card(
            session,
            gateway,
            customer=customer,
            subject=Subject("quote", quote_id),
            payment_method_id=payment_method_id,
        )
    except CardError as declined:
        session.rollback()
        raise QuoteError(
            402, str(declined), code=declined.decline_code or "card_declined"
        ) from None
    acceptance = lock(session, QuoteAcceptance, accepting_id)
    assert acceptance is not None
    if acceptance.status == "pending":
        acceptance.card_setup_id = setup.id
    session.commit()


def _pending_acceptance(
    session: Session, quote_id: int, acceptance_id: int | None
) -> QuoteAcceptance | None:
    """The signature waiting for its card: the one asked for, else the newest."""
    query = select(QuoteAcceptance).where(
        QuoteAcceptance.quote_id == quote_id, QuoteAcceptance.status == "pending"
    )
    if acceptance_id is not None:
        query = query.where(QuoteAcceptance.id == acceptance_id)
    return session.scalar(query.order_by(QuoteAcceptance.id.desc()))


def _read_saved_card(
    session: Session, gateway: PaymentGateway, quote_id: int, acceptance_id: int | None
) -> str | None:
    """Ask Stripe for the signer's saved card before any row is locked; commits what it learnt.

    On SQLite a lock is the database's write lock, so a slow Stripe read
    under it would stall every freelancer. Returns why the card is not saved
    (told to the client only if the quote still needs it), or None. Nothing
    is refused here: the checks that count are made again under the lock.
    """
    quote = session.get(Quote, quote_id)
    acceptance = _pending_acceptance(session, quote_id, acceptance_id)
    if (
        quote is None
        or quote.status not in t.OPEN_FOR_CLIENT
        or acceptance is None
        or acceptance.card_setup_id is None
        or acceptance.version_number != quote.current_version
    ):
        return None
    try:
        cards.complete_card_setup(session, gateway, acceptance.card_setup_id)
    except NotAllowed as exc:
        session.rollback()
        return str(exc)
    session.commit()
    return None


def _accept(
    session: Session,
    quote: Quote,
    acceptance_id: int | None,
    now: datetime,
    not_saved: str | None,
) -> None:
    """Check the signature and the saved card, and move the quote to `accepted` (flushed).

    Under the quote's lock; the card was read from Stripe before it was taken.
    """
    check_open(session, quote, now)
    acceptance = _pending_acceptance(session, quote.id, acceptance_id)
    if acceptance is None:
        raise QuoteError(409, "Sign the quote first (or sign again: it has changed).")
    if acceptance.version_number != quote.current_version:
        raise QuoteError(409, "The quote changed since you signed it; review it and sign again.")
    setup = (
        session.get(CardSetup, acceptance.card_setup_id, populate_existing=True)
        if acceptance.card_setup_id is not None
        else None
    )
    if setup is None or setup.status != SUCCEEDED or not setup.payment_method_id:
        raise QuoteError(
            409, not_saved or "The card is not saved yet; save it again.", code="card_not_saved"
        )
    acceptance.status = "accepted"
    acceptance.accepted_at = now
    quote.acceptance_id = acceptance.id
    quote.card_setup_id = setup.id
    t.move_quote(
        session,
        quote,
        t.ACCEPTED,
        actor=events.CLIENT,
        action="quote_accepted",
        data={
            "acceptance_id": acceptance.id,
            "signer_name": acceptance.signer_name,
            "version": acceptance.version_number,
            "content_sha256": acceptance.content_sha256,
            "signed_at": acceptance.signed_at.isoformat(),
            "ip": acceptance.ip,
            "user_agent": acceptance.user_agent,
            "card": f"{setup.card_brand} {setup.card_last4}",
        },
    )
    from webapp.notifications.service import to_freelancer

    to_freelancer(
        session,
        quote.freelancer_id,
        "quote_accepted",
        title=quote.title,
        client=f"{acceptance.signer_name} ({quote.client_name} <{quote.client_email}>)",
        amount_minor=quote.total_minor,
        currency=quote.currency,
    )


def _pay_deposit(
    session: Session, gateway: PaymentGateway, quote: Quote, milestone_id: int, now: datetime
) -> checkout.Outcome | None:
    """Start the deposit's checkout, or resume the one under way; None when nothing is left."""
    milestone = lock(session, Milestone, milestone_id)
    assert milestone is not None
    if milestone.status == t.PENDING:
        customer, payment_method_id = saved_card(session, quote)
        setup = session.get(CardSetup, quote.card_setup_id)
        t.move_milestone(session, milestone, t.CHARGING, actor=events.CLIENT)
        return checkout.start(
            session,
            gateway,
            customer=customer,
            subject=milestone_subject(milestone),
            purpose="deposit",
            amount=Money(milestone.amount_minor, milestone.currency),
            payment_method_id=payment_method_id,
            capture_method="automatic",
            now=now,
            # A card given with the deposit (no SetupIntent) is saved by it.
            setup_future_usage=checkout.future_usage(setup),
        )
    payment = latest_payment(session, milestone)
    if (
        milestone.status == t.CHARGING
        and payment is not None
        and payment.status in checkout.UNFINISHED
    ):
        return checkout.resume(session, gateway, payment.id, now=now)
    return None
