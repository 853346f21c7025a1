"""Bank statements, their lines and the matches that settle invoices with them.

A statement is stored once per freelancer (its SHA-256), a line once (its bank
reference): importing the same file twice, or two overlapping statements,
changes nothing. A match is a row that is never deleted: undoing one stamps
`undone_at` and reverses the payment it recorded (`reversal_payment_id`).

Stripe's side (migration 0022): the payouts read from Stripe and the balance
transactions each one paid out (gross, fee, net), stored once by Stripe id; a
payout recognised on the bank statement names its line (`bank_line_id`). The
accountant's numbers per freelancer live in `BooksSettings`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime, utcnow

FORMATS = ("camt053", "camt054", "ofx", "csv")
HOWS = ("number", "amount_name", "manual")


class BankStatement(Base):
    """One imported statement file."""

    __tablename__ = "bank_statement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(200), default="")
    account: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("freelancer_id", "sha256"),
        CheckConstraint("format IN ('camt053', 'camt054', 'ofx', 'csv')", name="format"),
    )


class BankLine(Base):
    """One booked entry of a statement: a credit (positive) or a debit (negative)."""

    __tablename__ = "bank_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statement.id"), index=True)
    bank_reference: Mapped[str] = mapped_column(String(200))
    booked_on: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    counterparty: Mapped[str] = mapped_column(String(200), default="")
    remittance: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("freelancer_id", "bank_reference"),
        CheckConstraint("amount_minor <> 0", name="amount_not_zero"),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
    )


class BankMatch(Base):
    """Part (or all) of a bank line paying one invoice, through one recorded payment."""

    __tablename__ = "bank_match"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("bank_line.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    how: Mapped[str] = mapped_column(String(20))
    payment_id: Mapped[int] = mapped_column(ForeignKey("invoice_payment.id"), unique=True)
    reversal_payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoice_payment.id"), unique=True
    )
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("how IN ('number', 'amount_name', 'manual')", name="how"),
        CheckConstraint(
            "(undone_at IS NULL) = (reversal_payment_id IS NULL)", name="undone_reversed"
        ),
    )


class StripePayout(Base):
    """A payout from the Stripe balance to the bank, as last read from Stripe."""

    __tablename__ = "stripe_payout"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    stripe_account: Mapped[str | None] = mapped_column(String(80))
    stripe_payout_id: Mapped[str] = mapped_column(String(255))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Stripe's arrival date: a calendar day (midnight UTC in Stripe's JSON).
    arrival_on: Mapped[date] = mapped_column(Date)
    statement_descriptor: Mapped[str] = mapped_column(String(100), default="")
    # The bank statement line that carried it, once recognised (never two payouts).
    bank_line_id: Mapped[int | None] = mapped_column(ForeignKey("bank_line.id"), unique=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("freelancer_id", "stripe_payout_id"),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
    )


class StripeBalanceTxn(Base):
    """One charge, refund or fee a payout paid out: gross, Stripe's fee, net."""

    __tablename__ = "stripe_balance_txn"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("stripe_payout.id"), index=True)
    stripe_txn_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(30))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    net_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_id: Mapped[str] = mapped_column(String(255), default="")
    payment_intent_id: Mapped[str] = mapped_column(String(255), default="")

    __table_args__ = (
        UniqueConstraint("freelancer_id", "stripe_txn_id"),
        CheckConstraint("net_minor = amount_minor - fee_minor", name="net_is_amount_less_fee"),
    )


class BooksSettings(Base):
    """The freelancer's FEC account numbers (the defaults unless changed)."""

    __tablename__ = "books_settings"

    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), primary_key=True)
    accounts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
