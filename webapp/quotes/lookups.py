"""Finding quotes, versions and milestones, always scoped to their freelancer or link."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.accounts.models import Freelancer, hash_token
from webapp.quotes.models import Milestone, Quote, QuoteAcceptance, QuoteVersion


def quote_for(session: Session, freelancer_id: int, quote_id: int) -> Quote | None:
    """One of this freelancer's quotes, or None."""
    return session.scalar(
        select(Quote).where(Quote.id == quote_id, Quote.freelancer_id == freelancer_id)
    )


def quotes_of(session: Session, freelancer_id: int) -> list[Quote]:
    """The freelancer's quotes, newest first."""
    return list(
        session.scalars(
            select(Quote).where(Quote.freelancer_id == freelancer_id).order_by(Quote.id.desc())
        )
    )


def quote_by_token(session: Session, token: str) -> Quote | None:
    """The quote a client link opens."""
    return session.scalar(select(Quote).where(Quote.public_token_hash == hash_token(token)))


def milestone_for(session: Session, freelancer_id: int, milestone_id: int) -> Milestone | None:
    """One of this freelancer's milestones, or None."""
    return session.scalar(
        select(Milestone).where(
            Milestone.id == milestone_id, Milestone.freelancer_id == freelancer_id
        )
    )


def milestones_of(session: Session, quote: Quote) -> list[Milestone]:
    """The quote's milestones in order."""
    return list(
        session.scalars(
            select(Milestone)
            .where(Milestone.quote_id == quote.id, Milestone.freelancer_id == quote.freelancer_id)
            .order_by(Milestone.position)
        )
    )


def milestone_by_client_token(session: Session, milestone_id: int, token: str) -> Milestone | None:
    """The milestone if `token` is its own link's token or its quote's link token."""
    milestone = session.get(Milestone, milestone_id)
    if milestone is None:
        return None
    digest = hash_token(token)
    if milestone.client_token_hash == digest:
        return milestone
    quote = session.get(Quote, milestone.quote_id)
    if quote is not None and quote.public_token_hash == digest:
        return milestone
    return None


def version_of(session: Session, quote: Quote, number: int | None = None) -> QuoteVersion:
    """A version of the quote (the current one by default)."""
    version = session.scalar(
        select(QuoteVersion).where(
            QuoteVersion.quote_id == quote.id,
            QuoteVersion.number == (number or quote.current_version),
        )
    )
    assert version is not None
    return version


def versions_of(session: Session, quote: Quote) -> list[QuoteVersion]:
    """Every version, oldest first."""
    return list(
        session.scalars(
            select(QuoteVersion)
            .where(QuoteVersion.quote_id == quote.id)
            .order_by(QuoteVersion.number)
        )
    )


def acceptance_of(session: Session, quote: Quote) -> QuoteAcceptance | None:
    """The accepted signature, once there is one."""
    if quote.acceptance_id is None:
        return None
    return session.get(QuoteAcceptance, quote.acceptance_id)


def public_token(quote: Quote) -> str:
    """The client link's token, decrypted for the freelancer to copy or resend."""
    from webapp.stripe_connect import secret_box

    return secret_box().decrypt(quote.public_token_enc)


def quote_url(quote: Quote) -> str:
    """The client's page."""
    return f"{current_app.config['BASE_URL']}/q/{public_token(quote)}"


def deadline_of(quote: Quote, freelancer: Freelancer) -> datetime:
    """The quote is valid through the whole of `valid_until`, in the freelancer's time zone."""
    zone = ZoneInfo(freelancer.timezone or "Europe/Paris")
    return datetime.combine(quote.valid_until + timedelta(days=1), time(), tzinfo=zone)
