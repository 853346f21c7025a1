"""Who the client of a payment is: their name, e-mail and language, per subject type."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from billing.models import Payment


@dataclass(frozen=True, slots=True)
class Client:
    """The person a payment came from, and what it paid for."""

    name: str
    email: str
    locale: str
    title: str


def client_of(session: Session, subject_type: str, subject_id: str) -> Client | None:
    """The client behind a payment subject (booking, milestone, message, dunning case)."""
    from billing.dunning.models import DunningCase
    from webapp.booking.models import Booking
    from webapp.messages.models import Question
    from webapp.quotes.models import Milestone, Quote

    if not str(subject_id).isdigit():
        return None
    key = int(subject_id)
    if subject_type == "booking":
        booking = session.get(Booking, key)
        if booking is not None:
            return Client(
                booking.client_name, booking.client_email, booking.client_locale, booking.title
            )
    elif subject_type == "milestone":
        milestone = session.get(Milestone, key)
        quote = session.get(Quote, milestone.quote_id) if milestone else None
        if milestone is not None and quote is not None:
            return Client(
                quote.client_name,
                quote.client_email,
                quote.client_locale,
                f"{quote.title} — {milestone.title}",
            )
    elif subject_type == "message":
        question = session.get(Question, key)
        if question is not None:
            return Client(question.client_name, question.client_email, question.client_locale, "")
    elif subject_type == "dunning_case":
        case = session.get(DunningCase, key)
        if case is not None:
            return Client(case.client_name, case.client_email, case.locale, "")
    return None


def client_of_payment(session: Session, payment: Payment) -> Client | None:
    """The client who paid (or failed to pay) `payment`.

    A recovery payment (the pay link, a retry) is charged on the original
    subject; its client is the dunning case's, whose address and language
    the case's e-mails already use.
    """
    from sqlalchemy import select

    from billing.dunning.models import DunningCase
    from webapp.dunning.cases import LINK_PURPOSE, RETRY_PURPOSE

    if payment.purpose in (LINK_PURPOSE, RETRY_PURPOSE):
        case = session.scalar(
            select(DunningCase)
            .where(
                DunningCase.freelancer_id == payment.freelancer_id,
                DunningCase.subject_type == payment.subject_type,
                DunningCase.subject_id == payment.subject_id,
            )
            .order_by(DunningCase.id.desc())
            .limit(1)
        )
        if case is not None:
            return client_of(session, "dunning_case", str(case.id))
    return client_of(session, payment.subject_type, payment.subject_id)
