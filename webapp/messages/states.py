"""A paid question's states, the one place they change (`move`), its timeline and its lock.

Every other messages module builds on this one; it imports none of them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from billing import events
from billing.errors import NotAllowed
from billing.locking import lock
from billing.states import StateMachine
from webapp.messages.models import Question

SUBJECT = "message"
PURPOSE = "message_hold"
TOKEN_PREFIX = "msg"  # noqa: S105 (a prefix, not a secret)

PENDING_PAYMENT = "pending_payment"
AWAITING_ANSWER = "awaiting_answer"
ANSWERED = "answered"
EXPIRED = "expired"
DECLINED = "declined"
CAPTURE_FAILED = "capture_failed"

# The one place a question's status may change; `move` reads it.
MACHINE = StateMachine(
    "question",
    {
        PENDING_PAYMENT: {AWAITING_ANSWER},
        AWAITING_ANSWER: {ANSWERED, EXPIRED, DECLINED, CAPTURE_FAILED},
        CAPTURE_FAILED: {ANSWERED, EXPIRED, DECLINED},
        ANSWERED: set(),
        EXPIRED: set(),
        DECLINED: set(),
    },
)
TRANSITIONS = MACHINE.table
OPEN = (AWAITING_ANSWER, CAPTURE_FAILED)


class NotFound(Exception):
    """No such question for this freelancer or token (tenant isolation: same answer)."""


class DeadlinePassed(NotAllowed):
    """The promised delay is over: the hold is (being) released, answering is closed."""


def move(
    session: Session, question: Question, new: str, *, actor: str, data: dict | None = None
) -> None:
    """Change the status if the table allows it, and append the event.

    `AlreadyDone` when it is already there, `NotAllowed` when the table forbids it.
    """
    old = question.status
    MACHINE.require(old, new, what=f"question {question.id}")
    question.status = new
    session.flush()
    record(session, question, f"message_{new}", actor=actor, data={"from": old, **(data or {})})


def record(
    session: Session, question: Question, action: str, *, actor: str, data: dict | None = None
) -> None:
    """Append one event to the question's timeline."""
    events.record(
        session,
        subject_type=SUBJECT,
        subject_id=question.id,
        action=action,
        actor=actor,
        freelancer_id=question.freelancer_id,
        data=data or {},
    )


def locked(session: Session, question_id: int) -> Question:
    """The question, locked for this transaction (subject before payment); else `NotFound`."""
    question = lock(session, Question, question_id)
    if question is None:
        raise NotFound(question_id)
    return question
