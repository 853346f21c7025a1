"""Dunning cases, their steps, the freelancer's settings and the editable rate table."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime, utcnow

CASE_STATUSES = ("open", "paused", "paid", "resolved", "written_off")


class DunningCase(Base):
    """Recovering the money of one invoice: from the failure (J+0) to paid or closed.

    `invoice_id` has no foreign key on purpose: the invoice table belongs to a
    sibling migration branch, and a constraint across branches would depend
    on the order heads are applied. Uniqueness still holds: one case per
    invoice, and one per failed subject (`source_key`).
    """

    __tablename__ = "dunning_case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    # "payment:<subject_type>:<subject_id>" or "invoice:<id>": what opened it.
    source_key: Mapped[str] = mapped_column(String(120))
    invoice_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    # The failed off-session charge, its client and saved card: what retries reuse.
    failed_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("payment_customer.id"))
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    original_purpose: Mapped[str] = mapped_column(String(40), default="")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    client_name: Mapped[str] = mapped_column(String(200), default="")
    client_email: Mapped[str] = mapped_column(String(320), default="")
    client_is_business: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    # The registered letter as the freelancer recorded it: {number, sent_on,
    # received_on} or {not_sent: true}. The documents state only what is here.
    registered_letter: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Why: a decline code ("insufficient_funds", "authentication_required"…) or "overdue".
    reason: Mapped[str] = mapped_column(String(100))
    hard_decline: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="open")
    pause_kind: Mapped[str | None] = mapped_column(String(20))  # dispute | promise | freelancer
    pause_reason: Mapped[str] = mapped_column(Text, default="")
    promise_date: Mapped[date | None] = mapped_column(Date)
    # J+0: the failed charge, or the first day after the invoice's due date.
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The "fix my payment" link: looked up by hash; kept encrypted to put it in reminders.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_enc: Mapped[str] = mapped_column(Text)
    card_setup_id: Mapped[int | None] = mapped_column(ForeignKey("card_setup.id"))
    link_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    penalty_invoice_id: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("freelancer_id", "source_key"),
        # The sweep: live cases, least recently swept first.
        Index("ix_dunning_case_status_updated", "status", "updated_at"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
        CheckConstraint(
            "status IN ('open', 'paused', 'paid', 'resolved', 'written_off')", name="status"
        ),
        CheckConstraint(
            "pause_kind IS NULL OR pause_kind IN ('dispute', 'promise', 'freelancer')",
            name="pause_kind",
        ),
    )


class DunningStep(Base):
    """One step of a case done (or skipped): the unique row that makes it happen once."""

    __tablename__ = "dunning_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dunning_case.id"), index=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    step: Mapped[str] = mapped_column(String(40))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # sent | skipped | charging | charged | failed | task_open | task_done | ready
    outcome: Mapped[str] = mapped_column(String(20))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("case_id", "step"),)


class DunningSettings(Base):
    """A freelancer's escalation settings: only what differs from the defaults."""

    __tablename__ = "dunning_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DunningRate(Base):
    """The editable half-yearly rate table (ECB refinancing rate, legal rate)."""

    __tablename__ = "dunning_rate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    valid_from: Mapped[date] = mapped_column(Date)
    rate_bp: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (
        UniqueConstraint("kind", "valid_from"),
        CheckConstraint("kind IN ('ecb', 'legal')", name="kind"),
        CheckConstraint("rate_bp >= -1000 AND rate_bp <= 10000", name="rate_range"),
    )
