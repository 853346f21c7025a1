"""The engine's tables: the event timeline, Stripe connections, webhook log,
customers, saved cards, and the payment ledger shared by sessions, quotes and
paid messages.

Rows that belong to a freelancer carry `freelancer_id`; the engine never
reads a row without filtering on it.
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
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime, utcnow


class Event(Base):
    """One state change of anything: who, when, what, on which object.

    Append-only. The timeline of a booking, quote, payment, invoice or dunning
    case is the list of its events; the recourse pack is built from it.
    """

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    freelancer_id: Mapped[int | None] = mapped_column(ForeignKey("freelancer.id"), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        # The timeline query: one object's events in order.
        UniqueConstraint("subject_type", "subject_id", "id", name="subject_timeline"),
        # Recent events of one kind (the late-money notices' sweep).
        Index("ix_event_action_occurred", "action", "occurred_at"),
    )


class StripeAccount(Base):
    """A freelancer's own Stripe keys, encrypted at rest.

    Without a row the instance's environment keys are used (single-freelancer
    installs and the demo).
    """

    __tablename__ = "stripe_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), unique=True)
    secret_key_enc: Mapped[str] = mapped_column(Text)
    secret_key_last4: Mapped[str] = mapped_column(String(4))
    publishable_key: Mapped[str] = mapped_column(String(255))
    webhook_secret_enc: Mapped[str] = mapped_column(Text)
    # Unguessable path segment of this account's webhook URL.
    webhook_token: Mapped[str] = mapped_column(String(64), unique=True)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """A Stripe event as received: stored raw, verified, deduplicated by id."""

    __tablename__ = "webhook_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "instance" for the environment's keys, else "account:<stripe_account.id>".
    endpoint: Mapped[str] = mapped_column(String(40))
    stripe_event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    stripe_created: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    # received → processed | ignored | failed (kept with its error, retried).
    status: Mapped[str] = mapped_column(String(20), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("endpoint", "stripe_event_id"),
        # Rows to retry (failed, or orphaned by a crash).
        Index("ix_webhook_event_status_received", "status", "received_at"),
    )


class PaymentCustomer(Base):
    """A client of a freelancer as a Stripe customer (clients have no account)."""

    __tablename__ = "payment_customer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The Stripe account `stripe_customer_id` lives in (`StripeCredentials.account_ref`):
    # a customer of one account means nothing to another.
    stripe_account: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("freelancer_id", "email"),)


class CardSetup(Base):
    """A SetupIntent: a client saving a card for later off-session charges."""

    __tablename__ = "card_setup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("payment_customer.id"))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    stripe_setup_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_account: Mapped[str | None] = mapped_column(String(80))
    # A random nonce, never an id: a rolled-back row's id is reused by SQLite.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(40), default="created")
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    card_brand: Mapped[str | None] = mapped_column(String(40))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Payment(Base):
    """One attempt to move money with a saved card: a charge or a hold.

    The ledger row behind every booking payment, milestone charge, fee and
    paid message. Its Stripe writes carry `idempotency_key` (our id and
    attempt); its status changes only through `billing.payments`.
    """

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("payment_customer.id"))
    # What the money is for, e.g. ("booking", "12") or ("milestone", "7").
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(40))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    capture_method: Mapped[str] = mapped_column(String(20))
    off_session: Mapped[bool] = mapped_column(Boolean, default=True)
    payment_method_id: Mapped[str] = mapped_column(String(255))
    # "off_session": this payment also saves the card for later off-session
    # charges (a card given with the payment, no SetupIntent); kept so a
    # create redone after a lost answer asks Stripe the same.
    setup_future_usage: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(40), default="created")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    # The Stripe account the PaymentIntent lives in (`StripeCredentials.account_ref`).
    stripe_account: Mapped[str | None] = mapped_column(String(80))
    # The Stripe write under way ("create", "capture", "cancel"), committed
    # before the call: if its answer never reaches our commit, the sweep looks
    # Stripe up (never repeats the write blindly). Cleared with the answer.
    in_flight: Mapped[str | None] = mapped_column(String(20))
    in_flight_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount_capturable_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_captured_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    hard_decline: Mapped[bool] = mapped_column(Boolean, default=False)
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A card authorisation lapses (about 7 days; under 5 for Visa MIT): never
    # capture after this.
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Stripe `created` of the newest webhook event applied: older ones are stale.
    stripe_event_created: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        # The reconcile sweep: non-final payments not re-read for a while.
        Index("ix_payment_status_updated", "status", "updated_at"),
        # ...and writes in doubt: only the few rows with a mark are in this index.
        Index(
            "ix_payment_in_flight",
            "in_flight_since",
            postgresql_where=text("in_flight IS NOT NULL"),
            sqlite_where=text("in_flight IS NOT NULL"),
        ),
        # A subject's payments (a booking's, a milestone's…): every totals read.
        Index("ix_payment_subject", "subject_type", "subject_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "amount_captured_minor >= 0 AND amount_captured_minor <= amount_minor",
            name="captured_within_amount",
        ),
        CheckConstraint(
            "amount_refunded_minor >= 0 AND amount_refunded_minor <= amount_captured_minor",
            name="refunded_within_captured",
        ),
        CheckConstraint("capture_method IN ('automatic', 'manual')", name="capture_method"),
    )


class Refund(Base):
    """Money given back on a captured payment."""

    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # created (committed, Stripe not answered yet) → pending | succeeded | failed | canceled.
    status: Mapped[str] = mapped_column(String(40), default="created", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)
