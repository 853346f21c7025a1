"""What Factur-X stores: the XML embedded in each issued PDF, and the invoices received
from suppliers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from billing.db import Base, UTCDateTime, utcnow


class EInvoice(Base):
    """The CII XML of an issued invoice, exactly as embedded in its PDF (`factur-x.xml`),
    with the rule sets it passed at issue. Written once, in the issuing transaction."""

    __tablename__ = "invoice_einvoice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), unique=True)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(20), default="en16931")
    # e.g. ["xsd", "en16931-cii", "br-fr-cii"]
    rule_sets: Mapped[list[str]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SupplierInvoice(Base):
    """An invoice a supplier sent the freelancer (a Factur-X PDF, a CII or a UBL XML),
    kept byte for byte once it passed the checks (the reception obligation of the
    e-invoicing reform)."""

    __tablename__ = "supplier_invoice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    filename: Mapped[str] = mapped_column(String(255), default="")
    # "factur-x" (a PDF with its XML), "cii" or "ubl" (an XML alone)
    format: Mapped[str] = mapped_column(String(20))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(100), default="")
    type_code: Mapped[str] = mapped_column(String(10), default="")
    seller_name: Mapped[str] = mapped_column(String(300), default="")
    seller_siren: Mapped[str] = mapped_column(String(20), default="")
    seller_vat_number: Mapped[str] = mapped_column(String(40), default="")
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="")
    total_excl_vat_minor: Mapped[int | None] = mapped_column(BigInteger)
    total_vat_minor: Mapped[int | None] = mapped_column(BigInteger)
    total_incl_vat_minor: Mapped[int | None] = mapped_column(BigInteger)
    due_payable_minor: Mapped[int | None] = mapped_column(BigInteger)
    rule_sets: Mapped[list[str]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    __table_args__ = (
        # The same file received twice is the same invoice.
        UniqueConstraint("freelancer_id", "sha256"),
        Index("ix_supplier_invoice_freelancer_received", "freelancer_id", "received_at"),
    )
