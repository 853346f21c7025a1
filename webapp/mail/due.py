"""Due work for e-mail: send what the worker missed, retry failures a bounded number of times,
and redact delivered e-mails once `MAIL_RETENTION_DAYS` have passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from billing import events
from billing.models import Event
from webapp.due import DueKind
from webapp.mail.models import OutboundEmail
from webapp.mail.service import FAILED, OUTBOX, QUEUED, SENT, deliver_email

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
    """Mail's due kinds: `mail` runs last, to send what the rest of the run queued."""
    return [
        DueKind("mail-retention", "outbound_email", find_expired, redact, OutboundEmail),
        DueKind("mail", "outbound_email", find_email, deliver, OutboundEmail),
    ]


# --- retention --------------------------------------------------------------

# What a delivered e-mail keeps once its retention is over: recipient, subject,
# dates, status, Message-ID; its bodies (client links with live tokens) and
# attachments are replaced by this note.
REDACTED_NOTE = (
    "[Content deleted after the retention period (MAIL_RETENTION_DAYS): "
    "recipient, subject, dates and status are kept.]"
)
REDACTED_ACTION = "email_redacted"


def retention(now: datetime) -> datetime | None:
    """E-mails delivered (or kept in the outbox) before this are redacted; None: kept forever."""
    days = current_app.config.get("MAIL_RETENTION_DAYS", 30)
    if days is None or int(days) <= 0:
        return None
    return now - timedelta(days=int(days))


def _expired(cutoff: datetime):
    # Sent ones count from their delivery (never before creation, so the
    # created_at bound keeps the status/created_at index useful).
    return (
        OutboundEmail.status.in_((SENT, OUTBOX)),
        OutboundEmail.created_at <= cutoff,
        or_(OutboundEmail.sent_at.is_(None), OutboundEmail.sent_at <= cutoff),
        OutboundEmail.body_text != REDACTED_NOTE,
    )


def find_expired(session: Session, now: datetime) -> list[int]:
    """Delivered e-mails past `MAIL_RETENTION_DAYS` whose content is still stored."""
    cutoff = retention(now)
    if cutoff is None:
        return []
    return list(
        session.scalars(
            select(OutboundEmail.id)
            .where(*_expired(cutoff))
            .order_by(OutboundEmail.id)
            .limit(BATCH)
        )
    )


def redact(session: Session, email_id: int, now: datetime) -> str | None:
    """Replace one expired e-mail's bodies and attachments by `REDACTED_NOTE`, under its lock."""
    cutoff = retention(now)
    if cutoff is None:
        return None
    email = session.scalars(
        select(OutboundEmail)
        .where(OutboundEmail.id == email_id, *_expired(cutoff))
        .with_for_update()
    ).one_or_none()
    if email is None:
        return None
    attachments = [a.get("filename") for a in email.attachments or []]
    email.body_text = REDACTED_NOTE
    email.body_html = ""
    email.attachments = []
    events.record(
        session,
        subject_type="outbound_email",
        subject_id=email.id,
        action=REDACTED_ACTION,
        freelancer_id=email.freelancer_id,
        data={"attachments": attachments},
    )
    return f"e-mail {email_id}: content deleted after the retention period"


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
