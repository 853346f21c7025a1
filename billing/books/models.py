"""Bank statements, their lines and the matches that settle invoices with them.

A statement is stored once per freelancer (its SHA-256), a line once (its bank
reference): importing the same file twice, or two overlapping statements,
changes nothing. A match is a row that is never deleted: undoing one stamps
`undone_at` and reverses the payment it recorded (`reversal_payment_id`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
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
