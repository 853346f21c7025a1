"""Invoices and credit notes (factures et avoirs), their lines, the payments
recorded against them and the gapless number sequences.

Framework-free. An invoice row exists only once issued: it is created, numbered
and frozen in one transaction, so there is no draft to edit and no number to
lose. Corrections are credit notes, never edits (a `before_flush` guard below
refuses any change to a frozen column).
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
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from billing.db import Base, UTCDateTime, utcnow

KIND_INVOICE = "invoice"
KIND_DEPOSIT = "deposit"  # facture d'acompte
KIND_FINAL = "final"  # facture de solde: restates the total, deducts the deposits
KIND_CREDIT_NOTE = "credit_note"  # avoir
KIND_DEBIT_NOTE = "debit_note"  # penalties and indemnity: out of VAT scope
KINDS = (KIND_INVOICE, KIND_DEPOSIT, KIND_FINAL, KIND_CREDIT_NOTE, KIND_DEBIT_NOTE)
# Every kind but the credit note asks the buyer for money.
DEBIT_KINDS = (KIND_INVOICE, KIND_DEPOSIT, KIND_FINAL, KIND_DEBIT_NOTE)

# Statuses of an invoice; a credit note stays `issued` (it is a document, the
# refund itself is a ledger matter).
ISSUED = "issued"
PARTIALLY_PAID = "partially_paid"
PAID = "paid"
CREDITED = "credited"  # fully cancelled by credit notes

METHODS = ("card", "transfer", "other")


class InvoiceSequence(Base):
    """The next number of one series (invoices or credit notes) of one year.

    French law (CGI annexe II art. 242 nonies A) asks for a continuous,
    chronological numbering without gaps; separate series are allowed when
    each is continuous. The row is locked while a number is taken, in the
    transaction of the issue itself, so a rolled-back issue gives it back.
    """

    __tablename__ = "invoice_sequence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"))
    kind: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    next_number: Mapped[int] = mapped_column(Integer, default=1)
    # Chronology: a number is never given to an earlier date than the last one.
    last_issue_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("freelancer_id", "kind", "year"),
        CheckConstraint("next_number >= 1", name="next_number_positive"),
        # Series: invoices (every debit kind shares it), credit notes, quotes (devis).
        CheckConstraint("kind IN ('invoice', 'credit_note', 'quote')", name="kind"),
    )


class Invoice(Base):
    """An issued invoice or credit note, with both parties frozen as they were."""

    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freelancer_id: Mapped[int] = mapped_column(ForeignKey("freelancer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default=ISSUED)
    issue_date: Mapped[date] = mapped_column(Date)
    service_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    seller: Mapped[dict[str, Any]] = mapped_column(JSON)
    buyer: Mapped[dict[str, Any]] = mapped_column(JSON)
    vat_regime: Mapped[str] = mapped_column(String(20))
    # None: the legal default rate, ECB rate + 10 points (Code de commerce L441-10).
    penalty_rate_bp: Mapped[int | None] = mapped_column(Integer)
    # The fixed 40 EUR recovery indemnity applies to business buyers only (D441-5).
    recovery_indemnity: Mapped[bool] = mapped_column(default=False)
    iban: Mapped[str] = mapped_column(String(34), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    total_excl_vat_minor: Mapped[int] = mapped_column(BigInteger)
    total_vat_minor: Mapped[int] = mapped_column(BigInteger)
    total_incl_vat_minor: Mapped[int] = mapped_column(BigInteger)
    # What is billed: ("booking", "12"), ("milestone", "7"), ("penalty", "3")…
    source_type: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(64))
    credited_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    # The mentions frozen at issue beside the parties: operation category, VAT on
    # debits, reverse charge, the quote a deposit/final belongs to, the deposits a
    # final deducts, a debit note's deadline (see billing.invoicing.mentions).
    mentions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # SHA-256 of the canonical content at issue: shows the document was not altered.
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="save-update, merge"
    )
    payments: Mapped[list[InvoicePayment]] = relationship(
        back_populates="invoice", order_by="InvoicePayment.id", cascade="save-update, merge"
    )
    credit_notes: Mapped[list[Invoice]] = relationship(
        foreign_keys=[credited_invoice_id], order_by="Invoice.id", viewonly=True
    )
    credited_invoice: Mapped[Invoice | None] = relationship(
        foreign_keys=[credited_invoice_id], remote_side=[id], viewonly=True
    )

    __table_args__ = (
        UniqueConstraint("freelancer_id", "number"),
        # One invoice per billed thing: the guard that makes issuing idempotent.
        UniqueConstraint("freelancer_id", "kind", "source_type", "source_id"),
        # Overdue invoices (dunning opens a case).
        Index("ix_invoice_status_due", "status", "due_date"),
        CheckConstraint(
            "kind IN ('invoice', 'deposit', 'final', 'credit_note', 'debit_note')", name="kind"
        ),
        CheckConstraint(
            "status IN ('issued', 'partially_paid', 'paid', 'credited')", name="status"
        ),
        CheckConstraint("vat_regime IN ('franchise', 'vat')", name="vat_regime"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        CheckConstraint("total_excl_vat_minor > 0", name="excl_vat_positive"),
        CheckConstraint("total_vat_minor >= 0", name="vat_not_negative"),
        CheckConstraint(
            "total_incl_vat_minor = total_excl_vat_minor + total_vat_minor", name="totals_add_up"
        ),
        CheckConstraint(
            "(kind = 'credit_note') = (credited_invoice_id IS NOT NULL)", name="credit_note_link"
        ),
        CheckConstraint("currency = lower(currency)", name="currency_lower"),
    )


class InvoiceLine(Base):
    """One line: quantity in thousandths (1.5 hours = 1500), amounts in minor units."""

    __tablename__ = "invoice_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    quantity_milli: Mapped[int] = mapped_column(BigInteger)
    unit_amount_minor: Mapped[int] = mapped_column(BigInteger)
    # Whether `unit_amount_minor` is the price including VAT (consumer prices).
    unit_includes_vat: Mapped[bool] = mapped_column(default=False)
    vat_rate_bp: Mapped[int] = mapped_column(Integer)
    total_excl_vat_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)
    total_incl_vat_minor: Mapped[int] = mapped_column(BigInteger)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    __table_args__ = (
        UniqueConstraint("invoice_id", "position"),
        CheckConstraint("quantity_milli > 0", name="quantity_positive"),
        CheckConstraint("unit_amount_minor >= 0", name="unit_not_negative"),
        CheckConstraint("vat_rate_bp >= 0 AND vat_rate_bp <= 10000", name="vat_rate_range"),
        CheckConstraint(
            "total_incl_vat_minor = total_excl_vat_minor + vat_minor", name="totals_add_up"
        ),
    )


class InvoicePayment(Base):
    """Money received against an invoice: a card payment of the ledger, or a transfer."""

    __tablename__ = "invoice_payment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(20))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A card payment backs one invoice payment only: recording it twice is refused.
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), unique=True)
    reference: Mapped[str] = mapped_column(String(200), default="")
    # A reversal (a bank match undone, issue 17): a negative row naming the payment it
    # cancels; rows are never edited nor deleted, the totals add up the signed amounts.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_payment.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    invoice: Mapped[Invoice] = relationship(back_populates="payments")

    __table_args__ = (
        CheckConstraint(
            "(reverses_id IS NULL AND amount_minor > 0)"
            " OR (reverses_id IS NOT NULL AND amount_minor < 0)",
            name="amount_positive",
        ),
        CheckConstraint("method IN ('card', 'transfer', 'other')", name="method"),
    )


class InvoiceDocument(Base):
    """The PDF of an invoice as issued: rendered once, stored with its SHA-256.

    CGI art. 289 VII: an issued invoice is unalterable. Every download returns
    these bytes; what happened later (payments, credit notes) is on the
    invoice's page, never in the document.
    """

    __tablename__ = "invoice_document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), unique=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Columns that may still change after issue: the cached status and its clock.
_MUTABLE = frozenset({"status", "updated_at"})


class InvoiceImmutable(Exception):
    """Something tried to edit an issued invoice: corrections are credit notes."""


@event.listens_for(Session, "before_flush")
def _refuse_edits(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, Invoice):
            state = inspect(obj)
            changed = {
                attr.key
                for attr in state.mapper.column_attrs
                if state.attrs[attr.key].history.has_changes()
            }
            if changed - _MUTABLE:
                raise InvoiceImmutable(
                    f"invoice {obj.number} is issued; {sorted(changed - _MUTABLE)} cannot change"
                )
        elif isinstance(
            obj, InvoiceLine | InvoicePayment | InvoiceDocument
        ) and session.is_modified(obj):
            raise InvoiceImmutable("lines and recorded payments of an invoice never change")
    for obj in session.deleted:
        if isinstance(obj, Invoice | InvoiceLine | InvoicePayment | InvoiceDocument):
            raise InvoiceImmutable("invoices, their lines and payments are never deleted")
