"""Issuing an invoice: validate, number, compute and freeze it in one flush.

An invoice (or credit note) row exists only once issued: it is numbered and
its content hashed in the same savepoint, so there is no draft to edit and no
number to lose. Issuing is idempotent per billed source (`AlreadyInvoiced`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import events
from billing.errors import AlreadyDone, NotAllowed
from billing.invoicing import documents, numbering
from billing.invoicing.amounts import line_amounts
from billing.invoicing.models import (
    DEBIT_KINDS,
    ISSUED,
    KIND_CREDIT_NOTE,
    KIND_INVOICE,
    Invoice,
    InvoiceLine,
)
from billing.invoicing.queries import find_by_source
from billing.invoicing.validation import Line, Party, validate_issue


class AlreadyInvoiced(AlreadyDone):
    """The source already has its invoice (issuing is idempotent per source)."""

    def __init__(self, invoice: Invoice) -> None:
        super().__init__(
            f"{invoice.source_type} {invoice.source_id} is already invoiced as {invoice.number}"
        )
        self.invoice = invoice


def content_hash(invoice: Invoice, lines: list[InvoiceLine]) -> str:
    """SHA-256 of the document's frozen content (canonical JSON), recorded at issue."""
    content = {
        "kind": invoice.kind,
        "number": invoice.number,
        "issue_date": invoice.issue_date.isoformat(),
        "service_date": invoice.service_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "currency": invoice.currency,
        "seller": invoice.seller,
        "buyer": invoice.buyer,
        "vat_regime": invoice.vat_regime,
        "penalty_rate_bp": invoice.penalty_rate_bp,
        "recovery_indemnity": invoice.recovery_indemnity,
        "iban": invoice.iban,
        "bic": invoice.bic,
        "credited_invoice_id": invoice.credited_invoice_id,
        "reason": invoice.reason,
        "lines": [
            [
                li.description,
                li.quantity_milli,
                li.unit_amount_minor,
                li.unit_includes_vat,
                li.vat_rate_bp,
                li.total_excl_vat_minor,
                li.vat_minor,
                li.total_incl_vat_minor,
            ]
            for li in lines
        ],
        "totals": [
            invoice.total_excl_vat_minor,
            invoice.total_vat_minor,
            invoice.total_incl_vat_minor,
        ],
    }
    # Invoices issued before the mentions existed keep the hash they were issued with.
    if invoice.mentions:
        content["mentions"] = invoice.mentions
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_document(
    session: Session,
    *,
    kind: str,
    freelancer_id: int,
    seller: dict,
    buyer: dict,
    lines: Sequence[Line],
    currency: str,
    issue_date: date,
    service_date: date,
    due_date: date,
    vat_regime: str,
    penalty_rate_bp: int | None,
    recovery_indemnity: bool,
    iban: str,
    bic: str,
    source_type: str,
    source_id: str,
    locale: str,
    actor: str,
    credited_invoice_id: int | None = None,
    reason: str = "",
    mentions: dict | None = None,
) -> Invoice:
    """Compute the lines, take the number and store an invoice or credit note; flushed.

    The PDF is rendered here, once, and stored with its SHA-256
    (`documents.issued_pdf` returns it from then on).

    The caller has validated its input. `AlreadyInvoiced` when a concurrent
    issue for the same source won the race; the number goes back with it.
    """
    rows: list[InvoiceLine] = []
    for position, line in enumerate(lines, start=1):
        milli, excl, vat, incl = line_amounts(line)
        rows.append(
            InvoiceLine(
                position=position,
                description=line.description.strip(),
                quantity_milli=milli,
                unit_amount_minor=line.unit_amount_minor,
                unit_includes_vat=line.unit_includes_vat,
                vat_rate_bp=line.vat_rate_bp,
                total_excl_vat_minor=excl,
                vat_minor=vat,
                total_incl_vat_minor=incl,
            )
        )
    total_excl = sum(r.total_excl_vat_minor for r in rows)
    total_vat = sum(r.vat_minor for r in rows)
    if total_excl <= 0:
        raise NotAllowed("an invoice's total must be positive")
    # The savepoint keeps a lost race (same source issued concurrently) from
    # spoiling the caller's transaction, and gives the number back with it.
    try:
        with session.begin_nested():
            number = numbering.take_number(
                session, freelancer_id=freelancer_id, kind=kind, issue_date=issue_date
            )
            invoice = Invoice(
                freelancer_id=freelancer_id,
                kind=kind,
                number=number,
                status=ISSUED,
                issue_date=issue_date,
                service_date=service_date,
                due_date=due_date,
                currency=currency,
                seller=seller,
                buyer=buyer,
                vat_regime=vat_regime,
                penalty_rate_bp=penalty_rate_bp,
                recovery_indemnity=recovery_indemnity,
                iban=iban,
                bic=bic,
                total_excl_vat_minor=total_excl,
                total_vat_minor=total_vat,
                total_incl_vat_minor=total_excl + total_vat,
                source_type=source_type,
                source_id=source_id,
                credited_invoice_id=credited_invoice_id,
                reason=reason,
                locale=locale,
                mentions=mentions or {},
                content_hash="",
                lines=rows,
            )
            invoice.content_hash = content_hash(invoice, rows)
            session.add(invoice)
            session.flush()
            documents.store(session, invoice)
    except IntegrityError:
        existing = (
            find_by_source(session, freelancer_id, source_type, source_id)
            if kind != KIND_CREDIT_NOTE
            else None
        )
        if existing is None:
            raise
        raise AlreadyInvoiced(existing) from None
    events.record(
        session,
        subject_type="invoice",
        subject_id=invoice.id,
        action=f"{kind}_issued",
        actor=actor,
        freelancer_id=freelancer_id,
        data={
            "number": invoice.number,
            "total_incl_vat_minor": invoice.total_incl_vat_minor,
            "currency": currency,
            "source_type": source_type,
            "source_id": source_id,
            "content_hash": invoice.content_hash,
        },
    )
    return invoice


def issue_invoice(
    session: Session,
    *,
    freelancer_id: int,
    seller: Party,
    buyer: Party,
    lines: Sequence[Line],
    currency: str,
    issue_date: date,
    service_date: date,
    due_date: date,
    vat_regime: str,
    penalty_rate_bp: int | None,
    iban: str,
    bic: str,
    source_type: str,
    source_id: str | int,
    locale: str = "fr",
    actor: str = events.SYSTEM,
    kind: str = KIND_INVOICE,
    mentions: dict | None = None,
) -> Invoice:
    """Number, freeze and record an invoice (a deposit, final or debit note by `kind`);
    flushed, not committed.

    `NotAllowed` for missing mandatory mentions or bad amounts;
    `AlreadyInvoiced` (an `AlreadyDone`, carrying `.invoice`) when the source
    already has its invoice.
    """
    validate_issue(
        seller=seller,
        buyer=buyer,
        lines=lines,
        currency=currency,
        issue_date=issue_date,
        due_date=due_date,
        vat_regime=vat_regime,
        penalty_rate_bp=penalty_rate_bp,
        locale=locale,
    )
    if kind not in DEBIT_KINDS:
        raise NotAllowed(f"an invoice's kind is one of {', '.join(DEBIT_KINDS)}")
    if not source_type or str(source_id) == "":
        raise NotAllowed("an invoice says what it bills: source_type and source_id")
    existing = find_by_source(session, freelancer_id, source_type, source_id)
    if existing is not None:
        raise AlreadyInvoiced(existing)
    return create_document(
        session,
        kind=kind,
        freelancer_id=freelancer_id,
        seller=asdict(seller),
        buyer=asdict(buyer),
        lines=lines,
        currency=currency,
        issue_date=issue_date,
        service_date=service_date,
        due_date=due_date,
        vat_regime=vat_regime,
        penalty_rate_bp=penalty_rate_bp,
        # D441-5: the fixed recovery indemnity is owed by business buyers only.
        recovery_indemnity=buyer.is_business,
        iban=iban.replace(" ", "").upper(),
        bic=bic.replace(" ", "").upper(),
        source_type=source_type,
        source_id=str(source_id),
        locale=locale,
        actor=actor,
        mentions=mentions,
    )
