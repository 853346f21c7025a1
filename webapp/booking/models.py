"""Paid sessions: offerings, weekly availability and bookings."""

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
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime, utcnow

PREPAY, HOLD, DEPOSIT = "prepay", "hold", "deposit"
POLICIES = (PREPAY, HOLD, DEPOSIT)

# Booking statuses.
PENDING_PAYMENT = "pending_payment"
REQUIRES_ACTION = "requires_action"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
COMPLETED = "completed"
NO_SHOW = "no_show"
EXPIRED = "expired"
STATUSES = (PENDING_PAYMENT, REQUIRES_ACTION, CONFIRMED, CANCELLED, COMPLETED, NO_SHOW, EXPIRED)
# The statuses that occupy their slot (the database refuses overlaps among them).
ACTIVE = (PENDING_PAYMENT, REQUIRES_ACTION, CONFIRMED)

_ACTIVE_SQL = "status IN ('pending_payment', 'requires_action', 'confirmed')"


class Offering(Base):
    """A bookable session: duration, price, payment policy and cancellation terms.

    Percentages are basis points (2500 = 25 %): exact integers, no floats.
    """

    __tablename__ = "booking_offering"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payment_policy: Mapped[str] = mapped_column(String(10))
    deposit_bp: Mapped[int] = mapped_column(Integer, default=0)
    free_cancel_hours: Mapped[int] = mapped_column(Integer, default=24)
    late_cancel_fee_bp: Mapped[int] = mapped_column(Integer, default=0)
    no_show_fee_bp: Mapped[int] = mapped_column(Integer, default=10000)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=120)
    horizon_days: Mapped[int] = mapped_column(Integer, default=60)
    # Where the session happens: an address, a phone number or a video link.
    location: Mapped[str] = mapped_column(String(500), default="")
    # Far-away `hold` sessions: the card is saved at booking and the hold placed
    # this long before the start; not secured `secure_deadline_hours` before
    # the start, the booking is cancelled (the freelancer's choice).
    hold_lead_hours: Mapped[int] = mapped_column(Integer, default=72)
    secure_deadline_hours: Mapped[int] = mapped_column(Integer, default=24)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
        CheckConstraint("payment_policy IN ('prepay', 'hold', 'deposit')", name="policy"),
        CheckConstraint("duration_minutes > 0 AND duration_minutes <= 720", name="duration"),
        CheckConstraint("deposit_bp >= 0 AND deposit_bp <= 10000", name="deposit_range"),
        CheckConstraint(
            "late_cancel_fee_bp >= 0 AND late_cancel_fee_bp <= 10000", name="late_fee_range"
        ),
        CheckConstraint("no_show_fee_bp >= 0 AND no_show_fee_bp <= 10000", name="no_show_range"),
        CheckConstraint("buffer_before_minutes >= 0 AND buffer_after_minutes >= 0", name="buffers"),
        CheckConstraint("secure_deadline_hours < hold_lead_hours", name="secure_before_hold"),
    )


class Availability(Base):
    """A freelancer's bookable hours: weekly intervals and dated exceptions, in their zone.

    `weekly`: [{"weekday": 0-6 (Monday = 0), "start": "09:00", "end": "12:00"}];
    `exceptions`: [{"date": "2026-12-24", "closed": true} |
    {"date": …, "intervals": [{"start", "end"}]}]. Validated by marshmallow.
    """

    __tablename__ = "booking_availability"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    weekly: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    exceptions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Booking(Base):
    """One client's session with a freelancer, and how its money is secured.

    `block_start`/`block_end` is the session plus its buffers: the span no
    other active booking of the freelancer may overlap (PostgreSQL enforces
    it with an exclusion constraint). The offering's money terms are copied
    at booking time so that later edits never change a booked deal.
    """

    __tablename__ = "booking"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"))
    offering_id: Mapped[int] = mapped_column(ForeignKey("booking_offering.id"), index=True)
    client_name: Mapped[str] = mapped_column(String(200))
    client_email: Mapped[str] = mapped_column(String(320))
    client_timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The client's language (their browser or FR/EN choice, or the API's `client.locale`).
    client_locale: Mapped[str] = mapped_column(String(5), default="fr")
    # Who is billed (webapp.clients): a consumer unless they said they book for a company.
    client_is_business: Mapped[bool] = mapped_column(Boolean, default=False)
    # {company, siren, vat_number, postal_address}: what the invoice's buyer side needs.
    client_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    block_start: Mapped[datetime] = mapped_column(UTCDateTime)
    block_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=PENDING_PAYMENT)
    # The deal as booked (a snapshot of the offering's terms).
    title: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payment_policy: Mapped[str] = mapped_column(String(10))
    deposit_bp: Mapped[int] = mapped_column(Integer)
    free_cancel_hours: Mapped[int] = mapped_column(Integer)
    late_cancel_fee_bp: Mapped[int] = mapped_column(Integer)
    no_show_fee_bp: Mapped[int] = mapped_column(Integer)
    secure_deadline_hours: Mapped[int] = mapped_column(Integer)
    # Payment state (cached from the ledger; see `policies.payment_state`).
    payment_state: Mapped[str] = mapped_column(String(20), default="none")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("payment_customer.id"))
    card_setup_id: Mapped[int | None] = mapped_column(ForeignKey("card_setup.id"))
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    # When the due runner places the hold of a far-away `hold` session.
    hold_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Encrypted (SecretBox) so that later e-mails (fix my card) can carry the link.
    manage_token_enc: Mapped[str] = mapped_column(Text)
    pending_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reschedule_count: Mapped[int] = mapped_column(Integer, default=0)
    # What the freelancer keeps once the booking is closed (a fee, the price,
    # 0), and whether money arrived after the closing (a 3-D Secure payment
    # completed after the booking expired) that the settle sweep must return.
    settle_target_minor: Mapped[int | None] = mapped_column(BigInteger)
    settle_due: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(80))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        # Slots read the bookings of one freelancer in a time window only.
        Index("ix_booking_freelancer_start", "freelancer_id", "start_at"),
        Index("ix_booking_status_start", "status", "start_at"),
        # The due kinds' searches (expiry, far-away holds, collection).
        Index("ix_booking_status_pending", "status", "pending_expires_at"),
        Index("ix_booking_status_hold_due", "status", "hold_due_at"),
        Index("ix_booking_status_end", "status", "end_at"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        CheckConstraint(
            "block_start <= start_at AND block_end >= end_at", name="block_covers_session"
        ),
        CheckConstraint(
            "status IN ('pending_payment', 'requires_action', 'confirmed', 'cancelled', "
            "'completed', 'no_show', 'expired')",
            name="status",
        ),
        # No double booking, enforced by PostgreSQL itself (the migration
        # creates it; btree_gist provides `=` on integers inside a GiST index).
        ExcludeConstraint(
            (text("freelancer_id"), "="),
            (text("tstzrange(block_start, block_end, '[)')"), "&&"),
            name="booking_no_overlap",
            using="gist",
            where=text(_ACTIVE_SQL),
        ).ddl_if(dialect="postgresql"),
    )
