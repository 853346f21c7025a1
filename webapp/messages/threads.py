"""Reading paid questions: a client's thread by its link, the freelancer's inbox, receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import CardSetup, Payment
from webapp.accounts.models import hash_token
from webapp.messages.models import Answer, Attachment, Question
from webapp.messages.states import OPEN, PENDING_PAYMENT, NotFound
from webapp.public.wording import money
from webapp.stripe_connect import secret_box

# --- the client's thread -----------------------------------------------------


def thread_question(session: Session, question_id: int, token: str) -> Question:
    """A question reached with its thread's link token, else `NotFound`."""
    question = session.get(Question, question_id)
    if question is None or not token:
        raise NotFound(question_id)
    root = thread_root(session, question)
    if root.token_hash != hash_token(token):
        raise NotFound(question_id)
    return question


def thread_by_token(session: Session, token: str) -> Question:
    """The first question of the thread whose link is `token`, else `NotFound`."""
    question = session.scalar(select(Question).where(Question.token_hash == hash_token(token)))
    if question is None:
        raise NotFound(token)
    return question


def thread_link(session: Session, question: Question) -> str:
    """The client's private conversation URL for the question's thread."""
    from flask import current_app

    root = thread_root(session, question)
    assert root.token_enc is not None
    return f"{current_app.config['BASE_URL']}/m/{secret_box().decrypt(root.token_enc)}"


def thread_root(session: Session, question: Question) -> Question:
    """The paid question a follow-up belongs to (itself for a paid question)."""
    if question.follow_up_of_id is None:
        return question
    root = session.get(Question, question.follow_up_of_id)
    assert root is not None
    return root


def thread(session: Session, root: Question) -> list[Question]:
    """The paid question and its follow-up, oldest first."""
    follow = session.scalar(select(Question).where(Question.follow_up_of_id == root.id))
    return [root] + ([follow] if follow else [])


# --- the freelancer's inbox --------------------------------------------------


def owned_question(session: Session, freelancer_id: int, question_id: int) -> Question:
    """One of the freelancer's questions, else `NotFound` (never another's)."""
    question = session.scalar(
        select(Question).where(Question.id == question_id, Question.freelancer_id == freelancer_id)
    )
    if question is None:
        raise NotFound(question_id)
    return question


def inbox(session: Session, freelancer_id: int) -> list[Question]:
    """The freelancer's questions, open ones first by deadline, then the rest newest first."""
    rows = list(
        session.scalars(
            select(Question)
            .where(Question.freelancer_id == freelancer_id, Question.status != PENDING_PAYMENT)
            .order_by(Question.id.desc())
        )
    )
    far = datetime.max.replace(tzinfo=None)
    open_rows = sorted(
        (q for q in rows if q.status in OPEN),
        key=lambda q: q.deadline_at.replace(tzinfo=None) if q.deadline_at else far,
    )
    return open_rows + [q for q in rows if q.status not in OPEN]


# --- one question --------------------------------------------------------------


def answer_of(session: Session, question: Question) -> Answer | None:
    """The question's answer row (sent or not)."""
    return session.scalar(select(Answer).where(Answer.question_id == question.id))


def attachments_of(session: Session, question: Question) -> list[Attachment]:
    """Files joined to the question and to its answer."""
    reply = answer_of(session, question)
    clause = Attachment.question_id == question.id
    if reply is not None:
        clause = clause | (Attachment.answer_id == reply.id)
    return list(session.scalars(select(Attachment).where(clause).order_by(Attachment.id)))


def receipt(session: Session, question: Question) -> dict[str, Any] | None:
    """What was captured for the question, with the card used; None before capture."""
    if question.payment_id is None:
        return None
    payment = session.get(Payment, question.payment_id)
    if payment is None or payment.amount_captured_minor == 0:
        return None
    setup = session.get(CardSetup, question.card_setup_id) if question.card_setup_id else None
    return {
        "amount_minor": payment.amount_captured_minor,
        "currency": payment.currency,
        "captured": money(payment.amount_captured_minor, payment.currency),
        "card_brand": setup.card_brand if setup else None,
        "card_last4": setup.card_last4 if setup else None,
        "invoice_id": question.invoice_id,
    }


def time_left(question: Question, now: datetime) -> int | None:
    """Seconds until the deadline (0 when passed); None while there is no deadline."""
    if question.deadline_at is None or question.status not in OPEN:
        return None
    return max(0, int((question.deadline_at - now).total_seconds()))
