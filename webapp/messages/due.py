"""Due work: questions left unanswered past their deadline have their hold released."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.due import DueKind
from webapp.messages import answering, states
from webapp.messages.models import Question
from webapp.stripe_connect import gateway

BATCH = 200


def find_unanswered(session: Session, now: datetime) -> list[int]:
    """Open questions whose deadline is at or before `now`, oldest deadline first."""
    return list(
        session.scalars(
            select(Question.id)
            .where(Question.status.in_(states.OPEN), Question.deadline_at <= now)
            .order_by(Question.deadline_at)
            .limit(BATCH)
        )
    )


def expire_unanswered(session: Session, question_id: int, now: datetime) -> str | None:
    """Release the hold of one question left unanswered past its deadline.

    Idempotent: the question is locked and re-checked, so a second run (or
    worker) finds it expired and does nothing. A failed release is rolled
    back and the question stays open: the next run tries again.
    """
    question = session.get(Question, question_id)
    if question is None:
        return None
    if answering.expire(session, gateway(question.freelancer_id), question_id, now=now):
        return f"question {question_id}: no answer in time, hold released"
    return None


def due_kinds() -> list[DueKind]:
    """Paid questions' due kinds."""
    return [DueKind("messages", states.SUBJECT, find_unanswered, expire_unanswered, Question)]
