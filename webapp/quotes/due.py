"""Due work for quotes: expiry, reminders, auto-approval, and charging milestones.

Idempotent by construction: every step locks the row, checks its state, then
acts. A charge is prepared (milestone → charging, payment row) and committed
before Stripe is called, so a second worker finds `charging` and stops, and a
crash or timeout after Stripe charged is settled by the ledger's reconcile
sweep, which looks Stripe up first and adopts what it finds, never by a second
charge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events, payments
from billing.errors import AlreadyDone, GatewayError, NotAllowed
from billing.locking import lock
from webapp.accounts.models import Freelancer
from webapp.due import DueKind
from webapp.quotes import emails, ledger, lookups, milestones
from webapp.quotes import transitions as t
from webapp.quotes.models import Milestone, Quote

REMINDER_BEFORE = timedelta(days=1)
BATCH = 200


def _gateway(freelancer_id: int):  # noqa: ANN202 (a PaymentGateway)
    from webapp.extensions import db
    from webapp.stripe_connect import gateway

    found = gateway(freelancer_id)
    # The keys are read through the app's scoped session; end that read at
    # once: on SQLite every transaction takes the write lock (BEGIN IMMEDIATE)
    # and the runner's own session needs it next.
    db.session.rollback()
    return found


def _ids(session: Session, query) -> list[int]:  # noqa: ANN001 (a Select)
    return list(session.scalars(query.limit(BATCH)))


# --- quotes past their validity ----------------------------------------------


def find_expired_quotes(session: Session, now: datetime) -> list[int]:
    """Sent or viewed quotes whose validity date may have passed."""
    # The deadline is the day after `valid_until` in the freelancer's zone;
    # whatever the zone, that is never before the UTC date has passed it.
    return _ids(
        session,
        select(Quote.id)
        .where(
            Quote.status.in_(t.OPEN_FOR_CLIENT),
            Quote.valid_until <= now.astimezone(UTC).date(),
        )
        .order_by(Quote.id),
    )


def expire_quote(session: Session, quote_id: int, now: datetime) -> str | None:
    """A sent or viewed quote past its validity date becomes `expired`."""
    quote = lock(session, Quote, quote_id)
    freelancer = session.get(Freelancer, quote.freelancer_id) if quote else None
    if quote is None or freelancer is None or quote.status not in t.OPEN_FOR_CLIENT:
        return None
    if now < lookups.deadline_of(quote, freelancer):
        return None
    t.move_quote(session, quote, t.EXPIRED, actor=events.SYSTEM)
    return f"quote {quote.id} expired"


# --- the day before auto-approval ---------------------------------------------


def find_reminders(session: Session, now: datetime) -> list[int]:
    """Delivered milestones auto-approved within a day whose client was not reminded."""
    return _ids(
        session,
        select(Milestone.id)
        .where(
            Milestone.status == t.DELIVERED,
            Milestone.reminder_sent_at.is_(None),
            Milestone.auto_approve_at <= now + REMINDER_BEFORE,
            Milestone.auto_approve_at > now,
        )
        .order_by(Milestone.id),
    )


def remind(session: Session, milestone_id: int, now: datetime) -> str | None:
    """The day before auto-approval, remind the client once."""
    from webapp.mail.service import send_email

    milestone = lock(session, Milestone, milestone_id)
    if milestone is None or milestone.status != t.DELIVERED or milestone.reminder_sent_at:
        return None
    assert milestone.auto_approve_at is not None
    if not now < milestone.auto_approve_at <= now + REMINDER_BEFORE:
        return None
    quote = session.get(Quote, milestone.quote_id)
    freelancer = session.get(Freelancer, milestone.freelancer_id)
    assert quote is not None and freelancer is not None
    milestone.reminder_sent_at = now
    events.record(
        session,
        subject_type="milestone",
        subject_id=milestone.id,
        action="milestone_approval_reminder_sent",
        freelancer_id=milestone.freelancer_id,
        data={"auto_approve_at": milestone.auto_approve_at.isoformat()},
    )
    context = emails.milestone_context(quote, milestone, freelancer, None)
    send_email(
        session,
        to=quote.client_email,
        subject=_l("Reminder: %(title)s will be approved tomorrow", title=milestone.title),
        template="milestone_reminder",
        context=context,
        locale=quote.client_locale or freelancer.locale,
        freelancer_id=freelancer.id,
    )
    return f"milestone {milestone.id}: reminder sent"


# --- auto-approval ---------------------------------------------------------------


def find_auto_approvals(session: Session, now: datetime) -> list[int]:
    """Delivered milestones whose objection delay is over."""
    return _ids(
        session,
        select(Milestone.id)
        .where(Milestone.status == t.DELIVERED, Milestone.auto_approve_at <= now)
        .order_by(Milestone.id),
    )


def auto_approve(session: Session, milestone_id: int, now: datetime) -> str | None:
    """A delivered milestone nobody objected to within the delay is approved."""
    milestone = lock(session, Milestone, milestone_id)
    if milestone is None or milestone.status != t.DELIVERED:
        return None
    assert milestone.auto_approve_at is not None
    if milestone.auto_approve_at > now:
        return None
    milestones.approve_milestone(session, milestone, by="auto", now=now)
    return f"milestone {milestone.id}: auto-approved"


# --- charging ------------------------------------------------------------------------


def _due_on(milestone: Milestone, freelancer: Freelancer, now: datetime) -> bool:
    today = now.astimezone(ZoneInfo(freelancer.timezone or "Europe/Paris")).date()
    return milestone.due_date is not None and milestone.due_date <= today


def find_charges(session: Session, now: datetime) -> list[int]:
    """Approved milestones, and pending on_date ones, of accepted quotes."""
    accepted = select(Quote.id).where(Quote.status == t.ACCEPTED)
    return _ids(
        session,
        select(Milestone.id)
        .where(
            Milestone.quote_id.in_(accepted),
            (Milestone.status == t.APPROVED)
            | (
                (Milestone.status == t.PENDING)
                & (Milestone.trigger == t.ON_DATE)
                # Due on its date in the freelancer's zone: never later than
                # the day after the UTC date.
                & (Milestone.due_date <= now.astimezone(UTC).date() + timedelta(days=1))
            ),
        )
        .order_by(Milestone.id),
    )


def charge_milestone(session: Session, milestone_id: int, now: datetime) -> str | None:
    """Lock, check, prepare and commit, then charge. Returns what happened, or None."""
    milestone = lock(session, Milestone, milestone_id)
    if milestone is None:
        session.commit()
        return None
    quote = session.get(Quote, milestone.quote_id)
    freelancer = session.get(Freelancer, milestone.freelancer_id)
    assert quote is not None and freelancer is not None
    ready = milestone.status == t.APPROVED or (
        milestone.status == t.PENDING
        and milestone.trigger == t.ON_DATE
        and _due_on(milestone, freelancer, now)
    )
    if quote.status != t.ACCEPTED or not ready:
        # Another worker got here first, or it is not due: nothing to do.
        session.commit()
        return None
    try:
        payment = ledger.prepare_charge(
            session, quote, milestone, off_session=True, actor=events.SYSTEM
        )
    except NotAllowed as exc:
        session.rollback()
        return f"milestone {milestone_id}: not charged: {exc}"
    session.commit()
    return _execute(session, milestone_id, payment.id, freelancer.id, now)


def _execute(
    session: Session, milestone_id: int, payment_id: int, freelancer_id: int, now: datetime
) -> str:
    try:
        payment = payments.execute_payment(session, _gateway(freelancer_id), payment_id, now=now)
    except AlreadyDone:
        session.rollback()
        return f"milestone {milestone_id}: payment {payment_id} already executed"
    except GatewayError as exc:
        # Outcome unknown (timeout) or refused: the write stays marked in
        # flight and the reconcile sweep looks Stripe up before any redo.
        session.commit()
        return f"milestone {milestone_id}: payment {payment_id} outcome unknown ({exc})"
    session.commit()
    return (
        f"milestone {milestone_id}: charged {payment.amount_minor} {payment.currency}"
        f" → {payment.status}"
    )


def due_kinds() -> list[DueKind]:
    """Quotes' due kinds in run order (payments in doubt: the ledger's one reconcile sweep)."""
    return [
        DueKind("quotes-expire", "quote", find_expired_quotes, expire_quote, Quote),
        DueKind("quotes-remind", "milestone", find_reminders, remind, Milestone),
        DueKind("quotes-auto-approve", "milestone", find_auto_approvals, auto_approve, Milestone),
        DueKind("quotes-charge", "milestone", find_charges, charge_milestone, Milestone),
    ]
