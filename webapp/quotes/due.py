"""Due work for quotes: expiry, reminders, auto-approval, and charging milestones.

Idempotent by construction: every step locks the row, checks its state, then
acts. A charge is prepared (milestone → charging, payment row) and committed
before Stripe is called, so a second worker finds `charging` and stops, and a
crash or timeout after Stripe charged is settled by `reconcile` with the same
idempotency key, never by a second charge.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events, payments
from billing.errors import AlreadyDone, GatewayError, NotAllowed
from billing.locking import lock
from billing.models import Payment
from webapp.accounts.models import Freelancer
from webapp.due import due_runner
from webapp.quotes import service
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


@due_runner("quotes")
def run_quotes(session: Session, now: datetime) -> list[str]:
    """Every quote and milestone step due at `now`, in order."""
    lines: list[str] = []
    lines += expire_quotes(session, now)
    lines += remind_before_auto_approval(session, now)
    lines += auto_approve(session, now)
    lines += charge_due_milestones(session, now)
    lines += settle_unknown_outcomes(session, now)
    return lines


def _ids(session: Session, query) -> list[int]:  # noqa: ANN001
    return list(session.scalars(query.limit(BATCH)))


def expire_quotes(session: Session, now: datetime) -> list[str]:
    """Sent or viewed quotes past their validity date become `expired`."""
    lines = []
    candidates = _ids(
        session, select(Quote.id).where(Quote.status.in_(t.OPEN_FOR_CLIENT)).order_by(Quote.id)
    )
    for quote_id in candidates:
        quote = lock(session, Quote, quote_id)
        freelancer = session.get(Freelancer, quote.freelancer_id) if quote else None
        if quote is None or freelancer is None or quote.status not in t.OPEN_FOR_CLIENT:
            session.commit()
            continue
        if now >= service.deadline_of(quote, freelancer):
            t.move_quote(session, quote, t.EXPIRED, actor=events.SYSTEM)
            lines.append(f"quote {quote.id} expired")
        session.commit()
    return lines


def remind_before_auto_approval(session: Session, now: datetime) -> list[str]:
    """The day before auto-approval, remind the client once."""
    from webapp.mail.service import send_email

    lines = []
    candidates = _ids(
        session,
        select(Milestone.id).where(
            Milestone.status == t.DELIVERED,
            Milestone.reminder_sent_at.is_(None),
            Milestone.auto_approve_at <= now + REMINDER_BEFORE,
            Milestone.auto_approve_at > now,
        ),
    )
    for milestone_id in candidates:
        milestone = lock(session, Milestone, milestone_id)
        if milestone is None or milestone.status != t.DELIVERED or milestone.reminder_sent_at:
            session.commit()
            continue
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
        context = service._milestone_context(quote, milestone, freelancer, None)
        send_email(
            session,
            to=quote.client_email,
            subject=_l("Reminder: %(title)s will be approved tomorrow", title=milestone.title),
            template="milestone_reminder",
            context=context,
            locale=freelancer.locale,
            freelancer_id=freelancer.id,
        )
        session.commit()
        lines.append(f"milestone {milestone.id}: reminder sent")
    return lines


def auto_approve(session: Session, now: datetime) -> list[str]:
    """Delivered milestones nobody objected to within the delay are approved."""
    lines = []
    candidates = _ids(
        session,
        select(Milestone.id).where(
            Milestone.status == t.DELIVERED, Milestone.auto_approve_at <= now
        ),
    )
    for milestone_id in candidates:
        milestone = lock(session, Milestone, milestone_id)
        if milestone is None or milestone.status != t.DELIVERED:
            session.commit()
            continue
        assert milestone.auto_approve_at is not None
        if milestone.auto_approve_at > now:
            session.commit()
            continue
        service.approve_milestone(session, milestone, by="auto", now=now)
        session.commit()
        lines.append(f"milestone {milestone.id}: auto-approved")
    return lines


def _due_on(milestone: Milestone, freelancer: Freelancer, now: datetime) -> bool:
    today = now.astimezone(ZoneInfo(freelancer.timezone or "Europe/Paris")).date()
    return milestone.due_date is not None and milestone.due_date <= today


def charge_due_milestones(session: Session, now: datetime) -> list[str]:
    """Charge approved milestones, and on_date milestones whose date has come, off-session."""
    lines = []
    accepted = select(Quote.id).where(Quote.status == t.ACCEPTED)
    candidates = _ids(
        session,
        select(Milestone.id)
        .where(
            Milestone.quote_id.in_(accepted),
            (Milestone.status == t.APPROVED)
            | ((Milestone.status == t.PENDING) & (Milestone.trigger == t.ON_DATE)),
        )
        .order_by(Milestone.id),
    )
    for milestone_id in candidates:
        line = charge_milestone(session, milestone_id, now)
        if line:
            lines.append(line)
    return lines


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
        payment = service.prepare_charge(
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
        # Outcome unknown (timeout) or refused: the row stays `created` and
        # `settle_unknown_outcomes` asks Stripe again with the same key.
        session.commit()
        return f"milestone {milestone_id}: payment {payment_id} outcome unknown ({exc})"
    session.commit()
    return (
        f"milestone {milestone_id}: charged {payment.amount_minor} {payment.currency}"
        f" → {payment.status}"
    )


def settle_unknown_outcomes(session: Session, now: datetime) -> list[str]:
    """Charging milestones whose payment is still `created`: reconcile with Stripe."""
    lines = []
    candidates = list(
        session.execute(
            select(Payment.id, Payment.subject_id, Payment.freelancer_id)
            .where(
                Payment.subject_type == "milestone",
                Payment.status == payments.CREATED,
                Payment.off_session.is_(True),
            )
            .order_by(Payment.id)
            .limit(BATCH)
        )
    )
    session.commit()
    for payment_id, subject_id, freelancer_id in candidates:
        try:
            payment = payments.reconcile(session, _gateway(freelancer_id), payment_id, now=now)
        except (AlreadyDone, GatewayError) as exc:
            session.rollback()
            lines.append(f"milestone {subject_id}: payment {payment_id} still unknown ({exc})")
            continue
        session.commit()
        lines.append(f"milestone {subject_id}: payment {payment_id} reconciled → {payment.status}")
    return lines
