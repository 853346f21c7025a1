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
    Text,
    UniqueConstraint,
    text,
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
    # The approved platform (webapp.invoices.transmission): None until looked at,
    # then sent | retry | refused | e-reporting (not e-invoiced: reported per period).
    transmission: Mapped[str | None] = mapped_column(String(20))
    transmission_ref: Mapped[str] = mapped_column(String(200), default="", server_default="")
    transmission_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    transmission_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    transmitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        # The transmission sweep: rows never looked at (few), and retries by time.
        Index(
            "ix_einvoice_untransmitted",
            "id",
            postgresql_where=text("transmission IS NULL"),
            sqlite_where=text("transmission IS NULL"),
        ),
        Index("ix_einvoice_transmission_retry", "transmission", "retry_at"),
    )


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
