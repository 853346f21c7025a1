"""A quote on its way to the client: sent (or sent again), viewed, still open, declined.

These functions flush, never commit: the view does.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from billing.locking import lock
from webapp.accounts.models import Freelancer
from webapp.quotes import transitions as t
from webapp.quotes.emails import quote_context, seller_name
from webapp.quotes.errors import QuoteError
from webapp.quotes.lookups import deadline_of
from webapp.quotes.models import Quote


def send_quote(session: Session, freelancer: Freelancer, quote: Quote) -> None:
    """E-mail the client the link to the current version (again, if already sent)."""
    from webapp.mail.service import send_email

    quote = lock(session, Quote, quote.id) or quote
    actor = events.freelancer_actor(freelancer.id)
    if quote.status == t.DRAFT:
        t.move_quote(session, quote, t.SENT, actor=actor, data={"version": quote.current_version})
    elif quote.status in t.OPEN_FOR_CLIENT:
        events.record(
            session,
            subject_type="quote",
            subject_id=quote.id,
            action="quote_resent",
            actor=actor,
            freelancer_id=freelancer.id,
            data={"version": quote.current_version},
        )
    else:
        raise QuoteError(409, f"A quote that is {quote.status} cannot be sent.")
    send_email(
        session,
        to=quote.client_email,
        subject=_l(
            "Quote from %(name)s: %(title)s", name=seller_name(freelancer), title=quote.title
        ),
        template="quote_sent",
        context=quote_context(quote, freelancer),
        locale=quote.client_locale or freelancer.locale,
        freelancer_id=freelancer.id,
    )


def mark_viewed(session: Session, quote: Quote) -> None:
    """The client opened the link: `sent` → `viewed` (once per version)."""
    from webapp.notifications.service import to_freelancer

    if quote.status == t.SENT:
        t.move_quote(
            session, quote, t.VIEWED, actor=events.CLIENT, data={"version": quote.current_version}
        )
        to_freelancer(
            session,
            quote.freelancer_id,
            "quote_viewed",
            title=quote.title,
            client=f"{quote.client_name} <{quote.client_email}>",
            amount_minor=quote.total_minor,
            currency=quote.currency,
        )


def check_open(session: Session, quote: Quote, now: datetime) -> Freelancer:
    """The quote's freelancer, if the client may still sign it; else `QuoteError` 409."""
    freelancer = session.get(Freelancer, quote.freelancer_id)
    assert freelancer is not None
    if quote.status == t.ACCEPTED:
        raise QuoteError(409, "This quote is already accepted.", code="already_accepted")
    if quote.status == t.EXPIRED or (
        quote.status in t.OPEN_FOR_CLIENT and now >= deadline_of(quote, freelancer)
    ):
        raise QuoteError(409, "This quote has expired; ask for a new one.", code="expired")
    if quote.status not in t.OPEN_FOR_CLIENT:
        raise QuoteError(409, f"This quote is {quote.status}.", code="not_open")
    return freelancer


def decline_quote(session: Session, quote: Quote, reason: str, now: datetime | None = None) -> None:
    """The client says no."""
    from webapp.mail.service import send_email

    quote = lock(session, Quote, quote.id) or quote
    freelancer = check_open(session, quote, now or utcnow())
    quote.decline_reason = reason
    t.move_quote(session, quote, t.DECLINED, actor=events.CLIENT, data={"reason": reason})
    send_email(
        session,
        to=freelancer.email,
        subject=_l("Quote declined: %(title)s", title=quote.title),
        template="quote_declined",
        context={"quote": quote, "reason": reason},
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )
