"""Due work: webhook events whose handler failed (or that a crash left unprocessed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from billing import webhooks
from webapp.due import due_runner
from webapp.webhooks import load_handlers


@due_runner("webhooks")
def retry_webhooks(session: Session, now: datetime) -> list[str]:
    """Process again failed rows (fewer than 5 attempts) once their backoff has passed."""
    # The worker and the CLI may run this before any request imported them.
    load_handlers()
    rows = webhooks.retry_failed(session, now, max_attempts=webhooks.MAX_ATTEMPTS)
    lines = []
    for row in rows:
        line = f"{row.endpoint} {row.stripe_event_id} ({row.type}): {row.status}"
        if row.status == webhooks.FAILED:
            line += f", attempt {row.attempts}/{webhooks.MAX_ATTEMPTS}: {row.error}"
        lines.append(line)
    return lines
