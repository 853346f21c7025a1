"""The freelancer answers (the hold is captured), declines (released), or the deadline
passes (released): each exactly once.

The money moves only through `billing.payments`, whose Stripe writes commit
(no lock waits on the network): the question is locked and checked, the
capture or release commits, then the question is locked again and re-checked
before it moves, so an answer submitted twice, or two workers expiring at
once, capture or release once. Otherwise functions flush; the route (or the
due runner) commits.

Capture failure (issue 5, option a): the answer is saved but NOT sent; the
question becomes `capture_failed`, the freelancer is told (API 409 + e-mail +
inbox notice) and may submit again (the capture is retried) until the
deadline, when the hold is released as for an unanswered question. The
client never gets an unpaid answer.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events, payments
from billing.errors import AlreadyDone, GatewayError, NotAllowed
from billing.gateway.port import PaymentGateway
from billing.models import Payment
from webapp.messages import notify
from webapp.messages.models import Answer, Question
from webapp.messages.states import (
    ANSWERED,
    CAPTURE_FAILED,
    DECLINED,
    EXPIRED,
    OPEN,
    DeadlinePassed,
    locked,
    move,
    record,
)
from webapp.messages.threads import owned_question


def answer(
    session: Session,
    gateway: PaymentGateway,
    freelancer_id: int,
    question_id: int,
    text: str,
    *,
    now: datetime,
) -> Question:
    """Capture the hold, then send the answer; exactly once.

    A double submit or a second worker waits on the question's lock, then
    finds it answered (`AlreadyDone`). A capture that fails leaves the answer
    saved but unsent (`capture_failed`).
    """
    owned_question(session, freelancer_id, question_id)
    question = locked(session, question_id)
    if question.status == ANSWERED:
        raise AlreadyDone(str(_l("This question has already been answered.")))
    if question.status not in OPEN:
        raise NotAllowed(str(_l("This question can no longer be answered.")))
    if question.deadline_at is not None and now >= question.deadline_at:
        raise DeadlinePassed(str(_l("The answer delay is over: the client's hold is released.")))
    actor = events.freelancer_actor(freelancer_id)
    reply = session.scalar(select(Answer).where(Answer.question_id == question.id))
    if reply is None:
        reply = Answer(question_id=question.id, freelancer_id=freelancer_id, text=text)
        session.add(reply)
    reply.text = text
    session.flush()
    if question.payment_id is not None:
        # The capture commits the saved answer with its mark, then calls Stripe.
        try:
            payment = payments.capture(session, gateway, question.payment_id, now=now, actor=actor)
        except AlreadyDone:
            payment = session.get(Payment, question.payment_id)
        except (GatewayError, NotAllowed) as exc:
            _capture_failed(session, locked(session, question_id), str(exc), actor=actor)
            return question
        question = locked(session, question_id)
        if payment is None or payment.status != payments.SUCCEEDED:
            _capture_failed(
                session, question, f"payment is {payment and payment.status}", actor=actor
            )
            return question
    if question.status == ANSWERED:
        # A retried capture: the ledger delivered the saved answer as it succeeded.
        return question
    deliver(session, question, reply, now=now, actor=actor)
    return question


def deliver(
    session: Session, question: Question, reply: Answer, *, now: datetime, actor: str
) -> None:
    """The money is captured (and invoiced by the invoices' ledger subscriber as it
    succeeded): send the answer, tell both sides."""
    reply.sent_at = now
    question.capture_error = None
    move(session, question, ANSWERED, actor=actor, data={"answer_id": reply.id})
    notify.answered(session, question, reply)


def decline(
    session: Session,
    gateway: PaymentGateway,
    freelancer_id: int,
    question_id: int,
    reason: str,
    *,
    now: datetime,
) -> Question:
    """The freelancer will not answer: release the hold and tell the client why."""
    owned_question(session, freelancer_id, question_id)
    question = locked(session, question_id)
    if question.status == DECLINED:
        raise AlreadyDone(str(_l("This question has already been declined.")))
    if question.status not in OPEN:
        raise NotAllowed(str(_l("This question can no longer be declined.")))
    actor = events.freelancer_actor(freelancer_id)
    if _release(session, gateway, question, now=now, actor=actor, reason="declined"):
        question = locked(session, question_id)
    question.decline_reason = reason
    move(session, question, DECLINED, actor=actor, data={"reason": reason})
    notify.to_client(session, question, "message_declined", _l("Your question was declined"))
    return question


def expire(session: Session, gateway: PaymentGateway, question_id: int, *, now: datetime) -> bool:
    """No answer in time: release the hold and tell the client. False if nothing to do."""
    question = locked(session, question_id)
    if not _past_deadline(question, now):
        return False
    if _release(
        session, gateway, question, now=now, actor=events.SYSTEM, reason="no answer in time"
    ):
        question = locked(session, question_id)
        if not _past_deadline(question, now):
            # Another worker expired it while the release was on its way.
            return False
    assert question.deadline_at is not None
    move(
        session,
        question,
        EXPIRED,
        actor=events.SYSTEM,
        data={"deadline_at": question.deadline_at.isoformat()},
    )
    notify.to_client(
        session, question, "message_expired", _l("No answer in time: you were not charged")
    )
    return True


def due_for_expiry(session: Session, now: datetime) -> list[tuple[int, int]]:
    """(question id, freelancer id) of open questions whose deadline has come."""
    rows = session.execute(
        select(Question.id, Question.freelancer_id)
        .where(Question.status.in_(OPEN), Question.deadline_at <= now)
        .order_by(Question.deadline_at)
    )
    return [(question_id, freelancer_id) for question_id, freelancer_id in rows]


def _past_deadline(question: Question, now: datetime) -> bool:
    return (
        question.status in OPEN and question.deadline_at is not None and now >= question.deadline_at
    )


def _release(
    session: Session,
    gateway: PaymentGateway,
    question: Question,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> bool:
    """Release the question's hold (commits); False when it has none."""
    if question.payment_id is None:
        return False
    with contextlib.suppress(AlreadyDone):
        payments.release(session, gateway, question.payment_id, now=now, actor=actor, reason=reason)
    return True


def _capture_failed(session: Session, question: Question, error: str, *, actor: str) -> None:
    question.capture_error = error[:2000]
    if question.status == CAPTURE_FAILED:
        record(
            session,
            question,
            "message_capture_failed_again",
            actor=actor,
            data={"error": question.capture_error},
        )
    else:
        move(session, question, CAPTURE_FAILED, actor=actor, data={"error": question.capture_error})
    notify.capture_failed(session, question)
