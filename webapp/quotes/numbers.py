"""A quote's number (`D2026-0001`, its own yearly series per freelancer) and the summary
invoices cite (number, date, total)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from billing.invoicing import numbering
from webapp.accounts.models import Freelancer
from webapp.quotes.lookups import version_of
from webapp.quotes.models import Quote


def quote_date(session: Session, quote: Quote) -> date:
    """The quote's date: the day its current (or accepted) version was written, locally."""
    freelancer = session.get(Freelancer, quote.freelancer_id)
    zone = ZoneInfo(freelancer.timezone if freelancer else "Europe/Paris")
    created: datetime = version_of(session, quote).created_at or quote.created_at
    return created.astimezone(zone).date()


def assign_number(session: Session, quote: Quote, today: date) -> str:
    """Take the quote's number in the freelancer's quote series; flushed."""
    if quote.number is None:
        quote.number = numbering.take_number(
            session, freelancer_id=quote.freelancer_id, kind=numbering.KIND_QUOTE, issue_date=today
        )
        session.flush()
    return quote.number


def display_number(quote: Quote) -> str:
    """`D2026-0001`; a quote written before quote numbers existed shows its id."""
    return quote.number or f"D-{quote.id}"


def quote_summary(session: Session, quote: Quote) -> dict[str, Any]:
    """What a deposit or final invoice says of its quote."""
    return {
        "number": display_number(quote),
        "date": quote_date(session, quote).isoformat(),
        "total_minor": quote.total_minor,
    }


def quote_lines(session: Session, quote: Quote) -> list[dict[str, Any]]:
    """The line items of the quote's current version."""
    return list(version_of(session, quote).content.get("lines", []))
