"""Freelancers and their API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from billing.db import Base, UTCDateTime, utcnow

VAT_FRANCHISE = "franchise"  # franchise en base: "TVA non applicable, art. 293 B du CGI"
VAT_STANDARD = "vat"
LEGAL_FORMS = ("ei", "eurl", "sasu", "sas", "sarl", "other")
ACTIVITIES = ("services", "goods", "mixed")


class Freelancer(Base):
    """A freelancer's account and business profile (the invoices' seller side)."""

    __tablename__ = "freelancer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    # Business profile, all optional until the first invoice needs them.
    legal_name: Mapped[str] = mapped_column(String(200), default="")
    siret: Mapped[str] = mapped_column(String(14), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    vat_regime: Mapped[str] = mapped_column(String(20), default=VAT_FRANCHISE)
    # Rates in basis points (2000 = 20.00 %): exact, no floats.
    vat_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    # Intra-EU VAT number: mandatory on invoices when VAT is charged (CGI art. 242 nonies A).
    vat_number: Mapped[str] = mapped_column(String(20), default="", server_default="")
    iban: Mapped[str] = mapped_column(String(34), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    # Legal identity on every document (issue 11). "" until the freelancer says:
    # issuing an invoice then refuses, naming what is missing.
    legal_form: Mapped[str] = mapped_column(String(10), default="", server_default="")
    share_capital_minor: Mapped[int | None] = mapped_column(BigInteger)
    # "RCS Paris 123 456 789", "RM 75 123 456 789", or "" (dispensé d'immatriculation).
    registration: Mapped[str] = mapped_column(String(200), default="", server_default="")
    insurance: Mapped[str] = mapped_column(Text, default="", server_default="")
    mediator: Mapped[str] = mapped_column(Text, default="", server_default="")
    vat_on_debits: Mapped[bool] = mapped_column(Boolean, default=False)
    activity: Mapped[str] = mapped_column(String(10), default="services", server_default="services")
    reply_to: Mapped[str] = mapped_column(String(320), default="", server_default="")
    # {line1, line2?, postal_code, city, country (ISO 3166 alpha-2)}; `address` stays as text.
    postal_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    currency: Mapped[str] = mapped_column(String(3), default="eur")
    # None: the legal default, ECB rate + 10 points (Code de commerce L441-10).
    penalty_rate_bp: Mapped[int | None] = mapped_column(Integer)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Sessions carry the version they were opened under; log-out and a password
    # change raise it, so every copy of an older session cookie stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Raised by every change to what the public page shows (webapp.public.cache).
    public_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The booking page's presentation (issue 15); the photo's bytes load only when served.
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")
    photo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    photo_type: Mapped[str] = mapped_column(String(20), default="", server_default="")
    photo_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")

    __table_args__ = (
        CheckConstraint("vat_regime IN ('franchise', 'vat')", name="vat_regime"),
        CheckConstraint("vat_rate_bp >= 0 AND vat_rate_bp <= 10000", name="vat_rate_range"),
        CheckConstraint(
            "payment_terms_days >= 0 AND payment_terms_days <= 60", name="payment_terms_range"
        ),
        CheckConstraint(
            "legal_form IN ('', 'ei', 'eurl', 'sasu', 'sas', 'sarl', 'other')", name="legal_form"
        ),
        CheckConstraint("activity IN ('services', 'goods', 'mixed')", name="activity"),
    )

    # Flask-Login's user protocol, spelled out rather than inherited.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


def hash_token(token: str) -> str:
    """How tokens are stored: SHA-256 (they are long and random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    """A fresh unguessable token, e.g. `acp_…` for API tokens."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


class ApiToken(Base):
    """A bearer token for the JSON API, stored as its hash only."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
