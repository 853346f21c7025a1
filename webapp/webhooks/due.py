"""Due work: webhook events whose handler failed (or that a crash left unprocessed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from billing import webhooks
from billing.locking import lock
from billing.models import WebhookEvent
from webapp.due import DueKind
from webapp.webhooks import load_handlers

BATCH = 200
SUBJECT = "webhook_event"


def _retry_time_has_come(now: datetime, max_attempts: int):  # noqa: ANN202 (a clause)
    # One clause per attempt count, so the backoff is decided by the index
    # on status rather than by loading every failed row.
    return or_(
        *(
            and_(
                WebhookEvent.attempts == attempts,
                WebhookEvent.received_at <= now - webhooks.retry_delay(attempts),
            )
            for attempts in range(1, max_attempts)
        )
    )


def find_retries(
    session: Session, now: datetime, max_attempts: int = webhooks.MAX_ATTEMPTS
) -> list[int]:
    """Failed rows (fewer than `max_attempts` runs) past their backoff, and orphaned rows."""
    return list(
        session.scalars(
            select(WebhookEvent.id)
            .where(
                or_(
                    (WebhookEvent.status == webhooks.FAILED)
                    & _retry_time_has_come(now, max_attempts),
                    (WebhookEvent.status == webhooks.RECEIVED)
                    & (WebhookEvent.received_at <= now - webhooks.ORPHAN_AFTER),
                )
            )
            .order_by(WebhookEvent.stripe_created, WebhookEvent.id)
            .limit(BATCH)
        )
    )


def retry(session: Session, row_id: int, now: datetime) -> str | None:
    """Process one stored event again, under its row lock, if it is still due; flushes."""
    # The worker and the CLI may run this before any request imported them.
    load_handlers()
    row = _lock(session, row_id)
    if row is None:
        return None
    due = (row.status == webhooks.FAILED and row.attempts < webhooks.MAX_ATTEMPTS) and (
        now >= row.received_at + webhooks.retry_delay(row.attempts)
    )
    orphaned = row.status == webhooks.RECEIVED and row.received_at <= now - webhooks.ORPHAN_AFTER
    if not (due or orphaned):
        return None
    webhooks.process(session, row, now)
    line = f"{row.endpoint} {row.stripe_event_id} ({row.type}): {row.status}"
    if row.status == webhooks.FAILED:
        line += f", attempt {row.attempts}/{webhooks.MAX_ATTEMPTS}: {row.error}"
    return line


def _lock(session: Session, row_id: int) -> WebhookEvent | None:
    if session.get_bind().dialect.name == "sqlite":
        # No row locks and no `updated_at` to touch: a no-op write takes the
        # database's write lock first, as `billing.locking.lock` does.
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == row_id)
            .values(attempts=WebhookEvent.attempts)
        )
    return lock(session, WebhookEvent, row_id)


def retry_webhooks(session: Session, now: datetime) -> list[str]:
    """Every due retry at once, in `session`, uncommitted (tests and scripts)."""
    lines = [retry(session, row_id, now) for row_id in find_retries(session, now)]
    return [line for line in lines if line]


def due_kinds() -> list[DueKind]:
    """Webhooks' due kinds: run first, so the rest of the run sees Stripe's news."""
    return [DueKind("webhooks", SUBJECT, find_retries, retry)]
