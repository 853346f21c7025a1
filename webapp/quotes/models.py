"""Quotes (devis), their immutable versions, the client's acceptance, and milestones (jalons)."""

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


class Quote(Base):
    """A quote sent to a client; its content lives in `QuoteVersion` rows."""

    __tablename__ = "quote"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    client_name: Mapped[str] = mapped_column(String(200))
    client_email: Mapped[str] = mapped_column(String(320))
    # The client's language: the quote, its e-mails and invoices are in it.
    client_locale: Mapped[str] = mapped_column(String(5), default="fr")
    client_company: Mapped[str] = mapped_column(String(200), default="")
    client_siret: Mapped[str] = mapped_column(String(14), default="")
    client_address: Mapped[str] = mapped_column(Text, default="")
    client_is_business: Mapped[bool] = mapped_column(Boolean, default=False)
    # {company, siren, vat_number, postal_address} (webapp.clients), as on bookings.
    client_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # "D2026-0001": the quote's own series, taken when it is created.
    number: Mapped[str | None] = mapped_column(String(32))
    terms: Mapped[str] = mapped_column(Text, default="")
    valid_until: Mapped[date] = mapped_column(Date)
    # Days a delivered milestone waits for the client before it is approved for them.
    auto_approve_days: Mapped[int] = mapped_column(Integer, default=7)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    # draft → sent → viewed → accepted | declined | expired
    status: Mapped[str] = mapped_column(String(20), default="draft")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    # The client link: looked up by hash; kept encrypted so the freelancer can copy or resend it.
    public_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    public_token_enc: Mapped[str] = mapped_column(Text)
    # The accepted `QuoteAcceptance` (no FK: the two tables point at each other).
    # Unique, so a quote can never carry two acceptances.
    acceptance_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    # The card saved at acceptance, charged off-session for the later milestones.
    card_setup_id: Mapped[int | None] = mapped_column(ForeignKey("card_setup.id"))
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("total_minor > 0", name="total_positive"),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
        CheckConstraint(
            "status IN ('draft', 'sent', 'viewed', 'accepted', 'declined', 'expired')",
            name="status",
        ),
        CheckConstraint("auto_approve_days >= 1 AND auto_approve_days <= 60", name="auto_days"),
        # The expiry sweep: open quotes by validity date.
        Index("ix_quote_status_valid_until", "status", "valid_until"),
    )


class QuoteVersion(Base):
    """An immutable snapshot of what the client is asked to sign, with its SHA-256."""

    __tablename__ = "quote_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quote.id"), index=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("quote_id", "number"),)


class QuoteAcceptance(Base):
    """The client's signature: typed name, terms ticked, when, from where, on which content.

    Written `pending` when the client signs (before the card is saved) and
    `accepted` once the card is saved and the quote accepted; at most one
    accepted row per quote (`quote.acceptance_id` is unique).
    """

    __tablename__ = "quote_acceptance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quote.id"), index=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    signer_name: Mapped[str] = mapped_column(String(200))
    terms_accepted: Mapped[bool] = mapped_column(Boolean)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    card_setup_id: Mapped[int] = mapped_column(ForeignKey("card_setup.id"))
    # pending → accepted | superseded
    status: Mapped[str] = mapped_column(String(20), default="pending")

    __table_args__ = (
        CheckConstraint("terms_accepted", name="terms_accepted"),
        CheckConstraint("status IN ('pending', 'accepted', 'superseded')", name="status"),
    )


class Milestone(Base):
    """One part of a quote's price, charged when its trigger fires."""

    __tablename__ = "milestone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quote.id"), index=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Set when the amount was given as a share of the total (basis points).
    percent_bp: Mapped[int | None] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(20))
    due_date: Mapped[date | None] = mapped_column(Date)
    # pending → (delivered → approved | objected) → charging → paid | payment_failed; cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery_note: Mapped[str] = mapped_column(Text, default="")
    auto_approve_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(20))
    objection_reason: Mapped[str] = mapped_column(Text, default="")
    # The client's link to approve or object, scoped to this milestone; hash only.
    client_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "card" or "bank_transfer" (recorded by the freelancer).
    paid_by: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("quote_id", "position"),
        # Auto-approvals and reminders due.
        Index("ix_milestone_status_auto_approve", "status", "auto_approve_at"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
        CheckConstraint("trigger IN ('on_acceptance', 'on_approval', 'on_date')", name="trigger"),
        CheckConstraint(
            "status IN ('pending', 'delivered', 'approved', 'objected', 'charging', 'paid',"
            " 'payment_failed', 'cancelled')",
            name="status",
        ),
        CheckConstraint("trigger != 'on_date' OR due_date IS NOT NULL", name="date_needs_due"),
    )
