"""Paid messages: the freelancer's settings, the client's questions, answers, attachments.

A question's money is a `billing.models.Payment` with subject ("message", id):
a hold placed when the client saves a card, captured when the answer is sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime, utcnow
from billing.ledger import HOLD_WINDOW_ON_SESSION

DEFAULT_ANSWER_DELAY_HOURS = 72
# The promised delay must end before the card authorisation lapses, or the
# answer could arrive when the hold can no longer be captured.
MAX_ANSWER_DELAY_HOURS = int(HOLD_WINDOW_ON_SESSION.total_seconds() // 3600)


class MessageSettings(Base):
    """A freelancer's paid-message offer: price, promised delay, follow-up rule."""

    __tablename__ = "message_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    urgent_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    urgent_delay_hours: Mapped[int | None] = mapped_column(Integer)
    answer_delay_hours: Mapped[int] = mapped_column(Integer, default=DEFAULT_ANSWER_DELAY_HOURS)
    free_follow_up: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("price_minor > 0", name="price_positive"),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
        CheckConstraint(
            "urgent_price_minor IS NULL OR urgent_price_minor > 0", name="urgent_price_positive"
        ),
        CheckConstraint(
            f"answer_delay_hours >= 1 AND answer_delay_hours <= {MAX_ANSWER_DELAY_HOURS}",
            name="answer_delay_in_hold_window",
        ),
        CheckConstraint(
            "urgent_delay_hours IS NULL OR "
            "(urgent_delay_hours >= 1 AND urgent_delay_hours <= answer_delay_hours)",
            name="urgent_delay_range",
        ),
    )


class Question(Base):
    """A client's question: paid (held, then captured) or a free follow-up in a thread.

    Status moves only through `webapp.messages.states.TRANSITIONS`.
    """

    __tablename__ = "message_question"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    client_name: Mapped[str] = mapped_column(String(200))
    client_email: Mapped[str] = mapped_column(String(320))
    client_locale: Mapped[str] = mapped_column(String(5), default="fr")
    # Who is billed (webapp.clients): a consumer unless they said they book for a company.
    client_is_business: Mapped[bool] = mapped_column(Boolean, default=False)
    # {company, siren, vat_number, postal_address}: what the invoice's buyer side needs.
    client_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # 0 only for a free follow-up; a paid question is never free.
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    answer_delay_hours: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(30), default="pending_payment", index=True)
    # Set when the hold is placed (or the free follow-up is asked).
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The thread's link: only the first question of a thread carries it.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The same link, encrypted (SECRET_KEY-derived keys), so later e-mails can carry it.
    token_enc: Mapped[str | None] = mapped_column(Text)
    follow_up_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("message_question.id"), unique=True
    )
    card_setup_id: Mapped[int | None] = mapped_column(ForeignKey("card_setup.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    capture_error: Mapped[str | None] = mapped_column(Text)
    invoice_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        CheckConstraint(
            "amount_minor > 0 OR follow_up_of_id IS NOT NULL", name="paid_unless_follow_up"
        ),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
        CheckConstraint(
            "status IN ('pending_payment', 'awaiting_answer', 'answered', 'expired', "
            "'declined', 'capture_failed')",
            name="status_known",
        ),
    )


class Answer(Base):
    """The freelancer's answer; `sent_at` is empty while it is not sent (capture failed)."""

    __tablename__ = "message_answer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("message_question.id"), unique=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Attachment(Base):
    """A file joined to a question or an answer, stored on disk under a random key."""

    __tablename__ = "message_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("message_question.id"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("message_answer.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("(question_id IS NULL) <> (answer_id IS NULL)", name="one_owner"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
    )
