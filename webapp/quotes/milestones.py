"""A milestone's life after acceptance: delivered, approved or objected to, the objection
resolved, cancelled, or paid by bank transfer.

These functions flush, never commit: the view (or the due runner) does. No
money moves here: an approved milestone is charged by the due runner
(`webapp.quotes.due`), and what its payment does is `webapp.quotes.ledger`'s.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from billing.locking import lock
from webapp.accounts.models import Freelancer, hash_token, new_token
from webapp.quotes import transitions as t
from webapp.quotes.emails import milestone_context
from webapp.quotes.errors import QuoteError, as_quote_error
from webapp.quotes.invoicing import issue_invoice
from webapp.quotes.models import Milestone, Quote


def _accepted_quote(session: Session, milestone: Milestone) -> Quote:
    quote = session.get(Quote, milestone.quote_id)
    assert quote is not None
    if quote.status != t.ACCEPTED:
        raise QuoteError(409, "The quote is not accepted yet.")
    return quote


def deliver_milestone(
    session: Session,
    freelancer: Freelancer,
    milestone: Milestone,
    note: str,
    now: datetime | None = None,
) -> str:
    """Mark delivered; the client has `auto_approve_days` to approve or object.

    Returns the client's milestone token (e-mailed with the auto-approval date).
    """
    from webapp.mail.service import send_email

    now = now or utcnow()
    milestone = lock(session, Milestone, milestone.id) or milestone
    quote = _accepted_quote(session, milestone)
    if milestone.trigger != t.ON_APPROVAL:
        raise QuoteError(409, "Only on_approval milestones are delivered for approval.")
    token = new_token("m")
    milestone.delivery_note = note
    milestone.delivered_at = now
    milestone.auto_approve_at = now + timedelta(days=quote.auto_approve_days)
    milestone.reminder_sent_at = None
    milestone.objection_reason = (
        milestone.objection_reason if milestone.status == t.OBJECTED else ""
    )
    milestone.client_token_hash = hash_token(token)
    as_quote_error(
        t.move_milestone,
        session,
        milestone,
        t.DELIVERED,
        actor=events.freelancer_actor(freelancer.id),
        data={"note": note, "auto_approve_at": milestone.auto_approve_at.isoformat()},
    )
    send_email(
        session,
        to=quote.client_email,
        subject=_l("Delivered: %(title)s", title=milestone.title),
        template="milestone_delivered",
        context=milestone_context(quote, milestone, freelancer, token),
        locale=quote.client_locale or freelancer.locale,
        freelancer_id=freelancer.id,
    )
    return token


def approve_milestone(
    session: Session, milestone: Milestone, *, by: str = "client", now: datetime | None = None
) -> None:
    """The client approves the delivery (or nobody objected in time: `by="auto"`)."""
    now = now or utcnow()
    milestone = lock(session, Milestone, milestone.id) or milestone
    _accepted_quote(session, milestone)
    milestone.approved_at = now
    milestone.approved_by = by
    as_quote_error(
        t.move_milestone,
        session,
        milestone,
        t.APPROVED,
        actor=events.CLIENT if by == "client" else events.SYSTEM,
        action="milestone_auto_approved" if by == "auto" else None,
        data={"approved_by": by},
    )
    from webapp.notifications.service import to_freelancer

    quote = session.get(Quote, milestone.quote_id)
    assert quote is not None
    to_freelancer(
        session,
        milestone.freelancer_id,
        "milestone_approved",
        title=f"{quote.title} — {milestone.title}",
        client=quote.client_name,
        amount_minor=milestone.amount_minor,
        currency=milestone.currency,
        note=_l("Approved automatically: no objection in time.") if by == "auto" else "",
    )


def object_to_milestone(
    session: Session, milestone: Milestone, reason: str, now: datetime | None = None
) -> None:
    """The client objects: the charge is paused and the freelancer told."""

    milestone = lock(session, Milestone, milestone.id) or milestone
    quote = _accepted_quote(session, milestone)
    if not reason.strip():
        raise QuoteError(422, "Say what is wrong so the freelancer can fix it.", code="reason")
    milestone.objection_reason = reason.strip()
    as_quote_error(
        t.move_milestone,
        session,
        milestone,
        t.OBJECTED,
        actor=events.CLIENT,
        data={"reason": milestone.objection_reason},
    )
    freelancer = session.get(Freelancer, quote.freelancer_id)
    assert freelancer is not None
    from webapp.notifications.service import to_freelancer

    context = milestone_context(quote, milestone, freelancer, None)
    context["title"] = milestone.title
    to_freelancer(session, freelancer.id, "milestone_objected", **context)


def resolve_objection(
    session: Session, freelancer: Freelancer, milestone: Milestone, action: str, note: str
) -> None:
    """After an objection: `revise` (deliver again), `charge` (agreed with the client), `cancel`."""
    if milestone.status != t.OBJECTED:
        raise QuoteError(409, f"Milestone {milestone.id} is {milestone.status}, not objected.")
    if action == "revise":
        deliver_milestone(session, freelancer, milestone, note)
    elif action == "charge":
        milestone = lock(session, Milestone, milestone.id) or milestone
        milestone.approved_at = utcnow()
        milestone.approved_by = "freelancer"
        as_quote_error(
            t.move_milestone,
            session,
            milestone,
            t.APPROVED,
            actor=events.freelancer_actor(freelancer.id),
            action="milestone_approved_after_agreement",
            data={"note": note},
        )
    else:
        cancel_milestone(session, freelancer, milestone, note)


def cancel_milestone(
    session: Session, freelancer: Freelancer, milestone: Milestone, note: str = ""
) -> None:
    """The freelancer drops a milestone: it will never be charged."""
    milestone = lock(session, Milestone, milestone.id) or milestone
    as_quote_error(
        t.move_milestone,
        session,
        milestone,
        t.CANCELLED,
        actor=events.freelancer_actor(freelancer.id),
        data={"note": note},
    )


def record_manual_payment(
    session: Session, freelancer: Freelancer, milestone: Milestone, reference: str, paid_on: date
) -> None:
    """The client paid by bank transfer: the milestone is paid, no card is charged."""
    milestone = lock(session, Milestone, milestone.id) or milestone
    _accepted_quote(session, milestone)
    milestone.paid_by = "bank_transfer"
    milestone.paid_at = datetime.combine(paid_on, time(12), tzinfo=ZoneInfo("UTC"))
    as_quote_error(
        t.move_milestone,
        session,
        milestone,
        t.PAID,
        actor=events.freelancer_actor(freelancer.id),
        action="milestone_paid_by_transfer",
        data={
            "reference": reference,
            "paid_on": paid_on.isoformat(),
            "amount_minor": milestone.amount_minor,
            "currency": milestone.currency,
        },
    )
    issue_invoice(session, milestone, payment=None)
