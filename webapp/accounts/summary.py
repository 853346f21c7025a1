"""What the freelancer's dashboard shows first: what needs them, and what is secured."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import payments
from billing.db import utcnow
from billing.dunning.models import DunningCase
from billing.models import Payment
from webapp.booking.models import CONFIRMED, Booking
from webapp.messages.models import Question
from webapp.quotes.models import Quote


@dataclass(frozen=True, slots=True)
class Summary:
    upcoming_sessions: int
    questions_waiting: int
    quotes_out: int
    open_cases: int
    secured_minor: int
    collected_minor: int


def summary(session: Session, freelancer_id: int, currency: str) -> Summary:
    """Counts and totals for the dashboard, each one query, scoped to the freelancer.

    Money totals are in the freelancer's own currency only: amounts in other
    currencies are never added to them.
    """

    def count(query) -> int:  # noqa: ANN001
        return session.scalar(query) or 0

    return Summary(
        upcoming_sessions=count(
            select(func.count(Booking.id)).where(
                Booking.freelancer_id == freelancer_id,
                Booking.status == CONFIRMED,
                Booking.start_at >= utcnow(),
            )
        ),
        questions_waiting=count(
            select(func.count(Question.id)).where(
                Question.freelancer_id == freelancer_id, Question.status == "awaiting_answer"
            )
        ),
        quotes_out=count(
            select(func.count(Quote.id)).where(
                Quote.freelancer_id == freelancer_id, Quote.status.in_(("sent", "viewed"))
            )
        ),
        open_cases=count(
            select(func.count(DunningCase.id)).where(
                DunningCase.freelancer_id == freelancer_id,
                DunningCase.status.in_(("open", "paused")),
            )
        ),
        secured_minor=count(
            select(func.sum(Payment.amount_capturable_minor)).where(
                Payment.freelancer_id == freelancer_id,
                Payment.currency == currency,
                Payment.status == payments.AUTHORIZED,
            )
        ),
        collected_minor=count(
            select(func.sum(Payment.amount_captured_minor - Payment.amount_refunded_minor)).where(
                Payment.freelancer_id == freelancer_id,
                Payment.currency == currency,
                Payment.status == payments.SUCCEEDED,
            )
        ),
    )
