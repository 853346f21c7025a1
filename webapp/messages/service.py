"""Asking a paid question: the freelancer's offer and settings, the client's question and
its free follow-up.

Answering, declining and expiring are in `webapp.messages.answering`; the hold
is placed by `webapp.messages.checkout` (which commits, as `billing.checkout`
does); the ledger's subscriber (`webapp.messages.subscriber`) starts the
answer clock once the hold is authorised. Functions here flush, never commit;
the route commits — except `ask`, whose customer and SetupIntent are Stripe
writes that commit (`billing.cards`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import cards, events, payments
from billing.errors import AlreadyDone, NotAllowed
from billing.gateway.port import PaymentGateway
from webapp import clients
from webapp.accounts.models import Freelancer, hash_token, new_token
from webapp.messages import notify
from webapp.messages.models import DEFAULT_ANSWER_DELAY_HOURS, MessageSettings, Question
from webapp.messages.states import (
    ANSWERED,
    AWAITING_ANSWER,
    PENDING_PAYMENT,
    SUBJECT,
    TOKEN_PREFIX,
    NotFound,
    locked,
    record,
)
from webapp.stripe_connect import secret_box

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
        client_is_business=bool(data.get("is_business")),
        client_details=clients.details(data),
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


def follow_up(session: Session, root: Question, text: str, *, now: datetime) -> Question:
    """The client's one free follow-up in an answered thread, if the freelancer allows it."""
    root = locked(session, root.id)
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
        client_is_business=root.client_is_business,
        client_details=root.client_details,
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
    notify.new_question(session, question)
    return question
