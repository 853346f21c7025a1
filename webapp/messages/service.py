"""Paid-message operations: ask, answer (capture), decline, expire, follow up.

Functions flush, never commit; the route (or the due runner) commits. The
client's hold is placed by `webapp.messages.checkout` (which commits, as
`billing.checkout` does). The money moves only through `billing.cards`,
`billing.checkout` and `billing.payments`: the same hold and capture mechanics
as the sessions, with the question row locked around every gateway call so an
answer submitted twice, or by two workers at once, captures once.

Capture failure (issue 5, option a): the answer is saved but NOT sent; the
question becomes `capture_failed`, the freelancer is told (API 409 + e-mail +
inbox notice) and may submit again (the capture is retried with the same
idempotency key) until the deadline, when the hold is released as for an
unanswered question. The client never gets an unpaid answer.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import cards, events, outcomes, payments
from billing.db import utcnow
from billing.errors import AlreadyDone, BillingError, GatewayError, NotAllowed
from billing.gateway.port import PaymentGateway
from billing.locking import lock
from billing.models import CardSetup, Payment
from billing.money import Money
from webapp.accounts.models import Freelancer, hash_token, new_token
from webapp.mail.service import send_email
from webapp.messages.models import (
    DEFAULT_ANSWER_DELAY_HOURS,
    Answer,
    Attachment,
    MessageSettings,
    Question,
)
from webapp.stripe_connect import secret_box

log = logging.getLogger(__name__)

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
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING_PAYMENT: frozenset({AWAITING_ANSWER}),
    AWAITING_ANSWER: frozenset({ANSWERED, EXPIRED, DECLINED, CAPTURE_FAILED}),
    CAPTURE_FAILED: frozenset({ANSWERED, EXPIRED, DECLINED}),
    ANSWERED: frozenset(),
    EXPIRED: frozenset(),
    DECLINED: frozenset(),
}
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
    if old == new:
        raise AlreadyDone(f"question {question.id} is already {new}")
    if new not in TRANSITIONS[old]:
        raise NotAllowed(f"question {question.id}: {old} → {new} is not allowed")
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


# --- settings ----------------------------------------------------------------


def settings_for(session: Session, freelancer_id: int) -> MessageSettings | None:
    """The freelancer's paid-message settings, if ever saved."""
    return session.scalar(
        select(MessageSettings).where(MessageSettings.freelancer_id == freelancer_id)
    )


def save_settings(
    session: Session, freelancer: Freelancer, data: dict[str, Any]
) -> MessageSettings:
    """Create or change the settings from validated data; flushes and records the change."""
    current = settings_for(session, freelancer.id)
    if current is None:
        current = MessageSettings(
            freelancer_id=freelancer.id,
            currency=freelancer.currency,
            answer_delay_hours=DEFAULT_ANSWER_DELAY_HOURS,
            free_follow_up=True,
            enabled=False,
        )
        session.add(current)
    for key, value in data.items():
        setattr(current, key, value)
    session.flush()
    events.record(
        session,
        subject_type="message_settings",
        subject_id=current.id,
        action="message_settings_saved",
        actor=events.freelancer_actor(freelancer.id),
        freelancer_id=freelancer.id,
        data={k: v for k, v in data.items()},
    )
    return current


def open_offer(session: Session, slug: str) -> tuple[Freelancer, MessageSettings]:
    """The freelancer behind `slug` and their settings, if they take paid questions."""
    freelancer = session.scalar(
        select(Freelancer).where(Freelancer.slug == slug, Freelancer.is_active.is_(True))
    )
    settings = settings_for(session, freelancer.id) if freelancer else None
    if freelancer is None or settings is None or not settings.enabled:
        raise NotFound(slug)
    return freelancer, settings


# --- the client's side -------------------------------------------------------


def ask(
    session: Session,
    gateway: PaymentGateway,
    freelancer: Freelancer,
    settings: MessageSettings,
    data: dict[str, Any],
    *,
    locale: str,
) -> tuple[Question, str, str]:
    """Record a question and open the SetupIntent that saves the client's card.

    Returns the question, the thread's link token (shown once, stored hashed)
    and the SetupIntent's client secret.
    """
    urgent = bool(data.get("urgent")) and settings.urgent_price_minor is not None
    token = new_token(TOKEN_PREFIX)
    question = Question(
        freelancer_id=freelancer.id,
        client_name=data["name"],
        client_email=data["email"],
        client_locale=locale,
        text=data["text"],
        urgent=urgent,
        amount_minor=settings.urgent_price_minor if urgent else settings.price_minor,
        currency=settings.currency,
        answer_delay_hours=(
            settings.urgent_delay_hours or settings.answer_delay_hours
            if urgent
            else settings.answer_delay_hours
        ),
        status=PENDING_PAYMENT,
        token_hash=hash_token(token),
        token_enc=secret_box().encrypt(token),
    )
    session.add(question)
    session.flush()
    record(
        session,
        question,
        "message_asked",
        actor=events.CLIENT,
        data={
            "amount_minor": question.amount_minor,
            "currency": question.currency,
            "urgent": urgent,
        },
    )
    customer = cards.ensure_customer(
        session, gateway, freelancer_id=freelancer.id, email=data["email"], name=data["name"]
    )
    setup, secret = cards.start_card_setup(
        session, gateway, customer=customer, subject=payments.Subject(SUBJECT, question.id)
    )
    question.card_setup_id = setup.id
    session.flush()
    return question, token, secret


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


def _lock_question(session: Session, subject_id: str) -> None:
    if subject_id.isdigit():
        lock(session, Question, int(subject_id))


# The question before its payment: the engine's one lock order.
outcomes.register_subject_lock(SUBJECT, _lock_question)


@outcomes.subscribe(SUBJECT)
def _on_payment(session: Session, payment: Payment, old: str, new: str) -> None:
    """A hold authorised (now, or later by a 3-D Secure webhook): the clock starts.

    A capture whose answer was lost, found succeeded later (the sweep, a
    webhook): the saved answer goes out then, with its invoice.
    """
    if new == payments.SUCCEEDED and payment.subject_id.isdigit():
        question = session.get(Question, int(payment.subject_id))
        if question is not None and question.status == CAPTURE_FAILED:
            reply = session.scalar(select(Answer).where(Answer.question_id == question.id))
            if reply is not None and reply.sent_at is None:
                _deliver(session, question, reply, now=utcnow(), actor=events.SYSTEM)
        return
    if new != payments.AUTHORIZED or not payment.subject_id.isdigit():
        return
    question = session.get(Question, int(payment.subject_id))
    if question is None or question.status != PENDING_PAYMENT:
        return
    if question.payment_id != payment.id:
        return
    authorized_at = payment.authorized_at
    assert authorized_at is not None
    question.deadline_at = authorized_at + timedelta(hours=question.answer_delay_hours)
    if payment.hold_expires_at is not None and question.deadline_at > payment.hold_expires_at:
        # Settings keep the delay inside the window; never promise past the hold.
        question.deadline_at = payment.hold_expires_at
    move(
        session,
        question,
        AWAITING_ANSWER,
        actor=events.STRIPE,
        data={"payment_id": payment.id, "deadline_at": question.deadline_at.isoformat()},
    )
    _notify_asked(session, question)


def follow_up(session: Session, root: Question, text: str, *, now: datetime) -> Question:
    """The client's one free follow-up in an answered thread, if the freelancer allows it."""
    root = _locked(session, root.id)
    settings = settings_for(session, root.freelancer_id)
    if root.follow_up_of_id is not None:
        raise NotAllowed(str(_l("Only one follow-up per paid question.")))
    if settings is None or not settings.free_follow_up:
        raise NotAllowed(str(_l("Free follow-ups are not offered: ask a new question.")))
    if root.status != ANSWERED:
        raise NotAllowed(str(_l("You can follow up once the answer has been sent.")))
    if session.scalar(select(Question.id).where(Question.follow_up_of_id == root.id)):
        raise AlreadyDone(str(_l("You have already used your follow-up for this question.")))
    question = Question(
        freelancer_id=root.freelancer_id,
        client_name=root.client_name,
        client_email=root.client_email,
        client_locale=root.client_locale,
        text=text,
        urgent=False,
        amount_minor=0,
        currency=root.currency,
        answer_delay_hours=root.answer_delay_hours,
        status=AWAITING_ANSWER,
        deadline_at=now + timedelta(hours=root.answer_delay_hours),
        follow_up_of_id=root.id,
    )
    session.add(question)
    session.flush()
    record(
        session, question, "message_follow_up_asked", actor=events.CLIENT, data={"thread": root.id}
    )
    _notify_freelancer_new(session, question)
    return question


# --- the freelancer's side ---------------------------------------------------


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

    The question row is locked for the whole operation, so a double submit or
    a second worker waits, then finds it answered (`AlreadyDone`). A capture
    that fails leaves the answer saved but unsent (`capture_failed`).
    """
    owned_question(session, freelancer_id, question_id)
    question = _locked(session, question_id)
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
        try:
            payment = payments.capture(session, gateway, question.payment_id, now=now, actor=actor)
        except AlreadyDone:
            payment = session.get(Payment, question.payment_id)
        except (GatewayError, NotAllowed) as exc:
            _capture_failed(session, question, str(exc), actor=actor)
            return question
        if payment is None or payment.status != payments.SUCCEEDED:
            _capture_failed(
                session, question, f"payment is {payment and payment.status}", actor=actor
            )
            return question
    if question.status == ANSWERED:
        # A retried capture: the ledger delivered the saved answer as it succeeded.
        return question
    _deliver(session, question, reply, now=now, actor=actor)
    return question


def _deliver(
    session: Session, question: Question, reply: Answer, *, now: datetime, actor: str
) -> None:
    """The money is captured: send the answer, invoice it, tell both sides."""
    reply.sent_at = now
    question.capture_error = None
    move(session, question, ANSWERED, actor=actor, data={"answer_id": reply.id})
    _issue_invoice(session, question, now=now)
    _notify_answered(session, question, reply)


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
    question = _locked(session, question_id)
    if question.status == DECLINED:
        raise AlreadyDone(str(_l("This question has already been declined.")))
    if question.status not in OPEN:
        raise NotAllowed(str(_l("This question can no longer be declined.")))
    actor = events.freelancer_actor(freelancer_id)
    _release(session, gateway, question, now=now, actor=actor, reason="declined")
    question.decline_reason = reason
    move(session, question, DECLINED, actor=actor, data={"reason": reason})
    _send_client(session, question, "message_declined", _l("Your question was declined"))
    return question


def expire(session: Session, gateway: PaymentGateway, question_id: int, *, now: datetime) -> bool:
    """No answer in time: release the hold and tell the client. False if nothing to do."""
    question = _locked(session, question_id)
    if question.status not in OPEN or question.deadline_at is None or now < question.deadline_at:
        return False
    _release(session, gateway, question, now=now, actor=events.SYSTEM, reason="no answer in time")
    move(
        session,
        question,
        EXPIRED,
        actor=events.SYSTEM,
        data={"deadline_at": question.deadline_at.isoformat()},
    )
    _send_client(
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


# --- reading -----------------------------------------------------------------


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
        "captured": Money(payment.amount_captured_minor, payment.currency).format(),
        "card_brand": setup.card_brand if setup else None,
        "card_last4": setup.card_last4 if setup else None,
        "invoice_id": question.invoice_id,
    }


def time_left(question: Question, now: datetime) -> int | None:
    """Seconds until the deadline (0 when passed); None while there is no deadline."""
    if question.deadline_at is None or question.status not in OPEN:
        return None
    return max(0, int((question.deadline_at - now).total_seconds()))


# --- internals ---------------------------------------------------------------


def _locked(session: Session, question_id: int) -> Question:
    question = lock(session, Question, question_id)
    if question is None:
        raise NotFound(question_id)
    return question


def _release(
    session: Session,
    gateway: PaymentGateway,
    question: Question,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> None:
    if question.payment_id is None:
        return
    with contextlib.suppress(AlreadyDone):
        payments.release(session, gateway, question.payment_id, now=now, actor=actor, reason=reason)


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
    freelancer = session.get(Freelancer, question.freelancer_id)
    assert freelancer is not None
    send_email(
        session,
        to=freelancer.email,
        subject=_l("Payment not captured: your answer was not sent"),
        template="message_capture_failed",
        context={"question": question, "freelancer": freelancer},
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )


def _issue_invoice(session: Session, question: Question, *, now: datetime) -> None:
    """The invoice backing the captured hold, through the shared invoice code.

    Never undoes the answer: the money is captured at Stripe by now, so an
    invoice that cannot be issued (an incomplete business profile…) is
    recorded on the timeline for the freelancer to fix, not raised.
    """
    if question.payment_id is None:
        return
    try:
        from billing.invoicing.service import Party
        from webapp.invoices.issue import issue_for_payment, local_today, priced_line
    except ImportError:  # an install without the invoices feature
        return
    payment = session.get(Payment, question.payment_id)
    freelancer = session.get(Freelancer, question.freelancer_id)
    assert payment is not None and freelancer is not None
    line = priced_line(
        freelancer,
        str(_l("Answer to a paid question (%(date)s)", date=local_today(freelancer, now))),
        payment.amount_captured_minor,
    )
    buyer = Party(
        name=question.client_name,
        legal_name="",
        siret="",
        address="",
        email=question.client_email,
        is_business=False,
    )
    try:
        with session.begin_nested():
            invoice = issue_for_payment(
                session,
                payment,
                lines=[line],
                buyer=buyer,
                service_date=local_today(freelancer, now),
                locale=question.client_locale,
                source_type=SUBJECT,
                source_id=question.id,
                now=now,
            )
    except BillingError as exc:
        log.warning("question %s: invoice not issued: %s", question.id, exc)
        record(
            session,
            question,
            "message_invoice_failed",
            actor=events.SYSTEM,
            data={"error": str(exc)},
        )
        return
    question.invoice_id = invoice.id
    session.flush()


def _notify_asked(session: Session, question: Question) -> None:
    _send_client(session, question, "message_received", _l("Your question was sent"))
    _notify_freelancer_new(session, question)


def _notify_freelancer_new(session: Session, question: Question) -> None:
    freelancer = session.get(Freelancer, question.freelancer_id)
    assert freelancer is not None
    send_email(
        session,
        to=freelancer.email,
        subject=_l("New paid question from %(name)s", name=question.client_name),
        template="message_new",
        context={"question": question, "freelancer": freelancer},
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )


def _notify_answered(session: Session, question: Question, reply: Answer) -> None:
    _send_client(
        session, question, "message_answered", _l("Your question has been answered"), answer=reply
    )


def _send_client(
    session: Session, question: Question, template: str, subject: Any, **extra: Any
) -> None:
    root = thread_root(session, question)
    freelancer = session.get(Freelancer, question.freelancer_id)
    send_email(
        session,
        to=question.client_email,
        subject=subject,
        template=template,
        context={
            "question": question,
            "root": root,
            "freelancer": freelancer,
            "amount": Money(question.amount_minor, question.currency).format(),
            "link": thread_link(session, question),
            **extra,
        },
        locale=question.client_locale,
        freelancer_id=question.freelancer_id,
    )
