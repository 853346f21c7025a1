"""Due work: questions left unanswered past their deadline have their hold released."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from billing.errors import BillingError
from webapp.due import due_runner
from webapp.messages import service
from webapp.stripe_connect import gateway

log = logging.getLogger(__name__)


@due_runner("messages")
def expire_unanswered(session: Session, now: datetime) -> list[str]:
    """Release the hold of every open question whose deadline is at or before `now`.

    Idempotent: each question is locked, re-checked, released and committed on
    its own, so a second run (or worker) finds it expired and skips it.
    """
    done: list[str] = []
    for question_id, freelancer_id in service.due_for_expiry(session, now):
        try:
            if service.expire(session, gateway(freelancer_id), question_id, now=now):
                done.append(f"question {question_id}: no answer in time, hold released")
            session.commit()
        except BillingError as exc:
            # Kept open: the next run tries again; the others carry on.
            session.rollback()
            log.warning("question %s not expired: %s", question_id, exc)
            done.append(f"question {question_id}: release failed, retried next run ({exc})")
    return done
