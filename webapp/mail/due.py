"""Due work for e-mail: send what the worker missed, retry failures a bounded number of times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from billing.models import Event
from webapp.due import DueKind
from webapp.mail.models import OutboundEmail
from webapp.mail.service import FAILED, QUEUED, deliver_email

# A queued e-mail younger than this is still the after-commit task's to send;
# the sweep would only race it (harmlessly, but pointlessly).
QUEUED_GRACE = timedelta(minutes=2)
# Wait before retry n (after the n-th failure); the last failure is final.
RETRY_DELAYS = (
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
BATCH = 200


def find_email(session: Session, now: datetime) -> list[int]:
    """E-mails to deliver as of `now` (none without `SMTP_URL`: they stay in the outbox)."""
    if not current_app.config.get("SMTP_URL"):
        return []
    return due_email_ids(session, now)


def deliver(session: Session, email_id: int, now: datetime) -> str | None:
    """Deliver one e-mail; its own claim (a conditional UPDATE) makes a second run skip it."""
    line = deliver_email(email_id)
    return None if line.endswith("already sent or not to be sent") else line


def deliver_due_email(session: Session, now: datetime) -> list[str]:
    """Deliver at once every queued e-mail left behind and every failed one due for a retry."""
    lines = [deliver(session, email_id, now) for email_id in find_email(session, now)]
    return [line for line in lines if line]


def due_kinds() -> list[DueKind]:
    """Mail's due kinds: run last, to send what the rest of the run queued."""
    return [DueKind("mail", "outbound_email", find_email, deliver, OutboundEmail)]


def due_email_ids(session: Session, now: datetime) -> list[int]:
    """Ids to deliver as of `now`, oldest first."""
    left_behind = list(
        session.scalars(
            select(OutboundEmail.id)
            .where(OutboundEmail.status == QUEUED, OutboundEmail.created_at <= now - QUEUED_GRACE)
            .order_by(OutboundEmail.id)
            .limit(BATCH)
        )
    )
    # Each failed attempt is an event, so the count of those is the attempt count.
    failures = (
        select(
            Event.subject_id.label("email_id"),
            func.count().label("attempts"),
            func.max(Event.occurred_at).label("last_failure"),
        )
        .where(Event.subject_type == "outbound_email", Event.action == "email_delivery_failed")
        .group_by(Event.subject_id)
        .subquery()
    )
    retryable = session.execute(
        select(OutboundEmail.id, failures.c.attempts, failures.c.last_failure)
        .join(failures, failures.c.email_id == cast(OutboundEmail.id, String))
        .where(OutboundEmail.status == FAILED, failures.c.attempts < MAX_ATTEMPTS)
    )
    retry_now = [
        email_id
        for email_id, attempts, last_failure in retryable
        if _aware(last_failure) + RETRY_DELAYS[attempts - 1] <= now
    ]
    return sorted(left_behind + retry_now)[:BATCH]


def _aware(value: datetime) -> datetime:
    # Defensive: an aggregate may come back naive (UTC) from SQLite.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
