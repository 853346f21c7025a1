"""Issuing invoices and credit notes, recording payments: plain functions that
take a session, flush, and leave the commit to the caller.

Amounts are integers in minor units. Each line is rounded once, half up; the
invoice totals are the sums of the lines, so the PDF always adds up.

Credit notes (avoirs) carry positive amounts: their kind gives the sign. They
reduce what the credited invoice still asks for; when a credit note exceeds
what is left to pay, the difference is money owed back (`refund_due`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import events
from billing.errors import AlreadyDone, NotAllowed
from billing.invoicing import numbering
from billing.invoicing.models import (
    CREDITED,
    ISSUED,
    KIND_CREDIT_NOTE,
    KIND_INVOICE,
    METHODS,
    PAID,
    PARTIALLY_PAID,
    Invoice,
    InvoiceLine,
    InvoicePayment,
)
from billing.locking import lock
from billing.models import Payment
from billing.states import StateMachine

VAT_FRANCHISE = "franchise"
VAT_STANDARD = "vat"
LOCALES = ("fr", "en")

# Invoice statuses move forward only: payments and credits only ever add up.
MACHINE = StateMachine(
    "invoice",
    {
        ISSUED: {PARTIALLY_PAID, PAID, CREDITED},
        PARTIALLY_PAID: {PAID, CREDITED},
        PAID: {CREDITED},
        CREDITED: set(),
    },
)
TRANSITIONS = MACHINE.table

_SIRET = re.compile(r"^\d{14}$")
_CURRENCY = re.compile(r"^[a-z]{3}$")


@dataclass(frozen=True, slots=True)
class Party:
    """One side of an invoice, frozen into the invoice at issue."""

    name: str
    legal_name: str
    siret: str
    address: str
    email: str
    is_business: bool
    vat_number: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """A line to invoice.

    `quantity`: an int or an exact Decimal/str with at most three decimals
    (1.5 hours); never a float. `unit_amount_minor` excludes VAT unless
    `unit_includes_vat` (a consumer price: the VAT is taken out of it, so the
    total is exactly what the card was charged).
    """

    description: str
    quantity: int | Decimal | str
    unit_amount_minor: int
    vat_rate_bp: int
    unit_includes_vat: bool = False


class AlreadyInvoiced(AlreadyDone):
    """The source already has its invoice (issuing is idempotent per source)."""

    def __init__(self, invoice: Invoice) -> None:
        super().__init__(
            f"{invoice.source_type} {invoice.source_id} is already invoiced as {invoice.number}"
        )
        self.invoice = invoice


StatusSubscriber = Callable[[Session, Invoice, str, str], None]
_subscribers: list[StatusSubscriber] = []


def on_status_change(fn: StatusSubscriber) -> StatusSubscriber:
    """Decorator: call `fn(session, invoice, old, new)` after each status change (dunning)."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def remove_subscriber(fn: StatusSubscriber) -> None:
    """Forget a subscriber (tests)."""
    if fn in _subscribers:
        _subscribers.remove(fn)


# --- arithmetic --------------------------------------------------------------


def _div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def quantity_milli(quantity: int | Decimal | str) -> int:
    """The quantity in thousandths; `NotAllowed` for floats, bools, or finer than 0.001."""
    if isinstance(quantity, bool | float):
        raise NotAllowed("quantity must be an int or an exact decimal, never a float")
    try:
        milli = Decimal(str(quantity)) * 1000
    except InvalidOperation:
        raise NotAllowed(f"quantity {quantity!r} is not a number") from None
    if milli != milli.to_integral_value():
        raise NotAllowed("quantity has at most three decimals")
    if milli <= 0:
        raise NotAllowed("quantity must be positive")
    return int(milli)


def line_amounts(line: Line) -> tuple[int, int, int, int]:
    """(quantity_milli, excl. VAT, VAT, incl. VAT) of one line, each rounded half up once."""
    milli = quantity_milli(line.quantity)
    rate = line.vat_rate_bp
    amount = _div_half_up(milli * line.unit_amount_minor, 1000)
    if line.unit_includes_vat:
        excl = _div_half_up(amount * 10000, 10000 + rate)
        return milli, excl, amount - excl, amount
    vat = _div_half_up(amount * rate, 10000)
    return milli, amount, vat, amount + vat


def vat_summary(invoice: Invoice) -> list[dict[str, int]]:
    """Per VAT rate: base and VAT (the mandatory breakdown), rates in ascending order."""
    by_rate: dict[int, dict[str, int]] = {}
    for line in invoice.lines:
        row = by_rate.setdefault(
            line.vat_rate_bp, {"rate_bp": line.vat_rate_bp, "base_minor": 0, "vat_minor": 0}
        )
        row["base_minor"] += line.total_excl_vat_minor
        row["vat_minor"] += line.vat_minor
    return [by_rate[k] for k in sorted(by_rate)]


# --- reading -------------------------------------------------------------------


def paid_minor(invoice: Invoice) -> int:
    """What was received against the invoice."""
    return sum(p.amount_minor for p in invoice.payments)


def credited_minor(invoice: Invoice) -> int:
    """What credit notes took off the invoice."""
    return sum(c.total_incl_vat_minor for c in invoice.credit_notes)


def balance_due(invoice: Invoice) -> int:
    """What the buyer still owes (0 for a credit note, never negative)."""
    if invoice.kind != KIND_INVOICE:
        return 0
    return max(0, invoice.total_incl_vat_minor - credited_minor(invoice) - paid_minor(invoice))


def refund_due(invoice: Invoice) -> int:
    """Money received beyond what the invoice asks for after its credit notes."""
    if invoice.kind != KIND_INVOICE:
        return 0
    return max(0, paid_minor(invoice) + credited_minor(invoice) - invoice.total_incl_vat_minor)


def get_invoice(session: Session, freelancer_id: int, invoice_id: int) -> Invoice | None:
    """One of the freelancer's invoices, or None (another freelancer's is None too)."""
    return session.scalar(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.freelancer_id == freelancer_id)
    )


def list_invoices(session: Session, freelancer_id: int) -> list[Invoice]:
    """The freelancer's invoices and credit notes, newest first."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.freelancer_id == freelancer_id)
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        )
    )


def find_by_source(
    session: Session, freelancer_id: int, source_type: str, source_id: str | int
) -> Invoice | None:
    """The invoice (not credit note) issued for a billed thing, if any."""
    return session.scalar(
        select(Invoice).where(
            Invoice.freelancer_id == freelancer_id,
            Invoice.kind == KIND_INVOICE,
            Invoice.source_type == source_type,
            Invoice.source_id == str(source_id),
        )
    )


def find_by_payment(session: Session, payment_id: int) -> Invoice | None:
    """The invoice a ledger payment was recorded against, if any."""
    return session.scalar(
        select(Invoice).join(InvoicePayment).where(InvoicePayment.payment_id == payment_id)
    )


# --- issuing -----------------------------------------------------------------


def _check_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise NotAllowed(f"{name} must be an integer (minor units), got {value!r}")
    return value


def _validate(
    *,
    seller: Party,
    buyer: Party,
    lines: Sequence[Line],
    currency: str,
    issue_date: date,
    due_date: date,
    vat_regime: str,
    penalty_rate_bp: int | None,
    locale: str,
) -> None:
    if not seller.legal_name.strip():
        raise NotAllowed("the seller's legal name is required on an invoice")
    if not _SIRET.match(seller.siret.replace(" ", "")):
        raise NotAllowed("the seller's SIRET (14 digits) is required on an invoice")
    if not buyer.name.strip():
        raise NotAllowed("the buyer's name is required on an invoice")
    if not lines:
        raise NotAllowed("an invoice needs at least one line")
    if not _CURRENCY.match(currency):
        raise NotAllowed(f"currency must be a lower-case ISO 4217 code, got {currency!r}")
    if due_date < issue_date:
        raise NotAllowed("the due date cannot be before the issue date")
    if vat_regime not in (VAT_FRANCHISE, VAT_STANDARD):
        raise NotAllowed(f"unknown VAT regime {vat_regime!r}")
    if penalty_rate_bp is not None and _check_int("penalty_rate_bp", penalty_rate_bp) < 0:
        raise NotAllowed("the penalty rate cannot be negative")
    if locale not in LOCALES:
        raise NotAllowed(f"locale must be one of {LOCALES}")
    for line in lines:
        if not line.description.strip():
            raise NotAllowed("every line needs a description")
        if _check_int("unit_amount_minor", line.unit_amount_minor) < 0:
            raise NotAllowed("a unit amount cannot be negative")
        rate = _check_int("vat_rate_bp", line.vat_rate_bp)
        if not 0 <= rate <= 10000:
            raise NotAllowed("a VAT rate is between 0 and 10000 basis points")
        if vat_regime == VAT_FRANCHISE and rate != 0:
            # Franchise en base (CGI art. 293 B): no VAT may be invoiced at all.
            raise NotAllowed("under the VAT franchise every line has a 0 % rate")


def _content_hash(invoice: Invoice, lines: list[InvoiceLine]) -> str:
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
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _create(
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
) -> Invoice:
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
                content_hash="",
                lines=rows,
            )
            invoice.content_hash = _content_hash(invoice, rows)
            session.add(invoice)
            session.flush()
    except IntegrityError:
        existing = (
            find_by_source(session, freelancer_id, source_type, source_id)
            if kind == KIND_INVOICE
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
) -> Invoice:
    """Number, freeze and record an invoice; flushed, not committed.

    `NotAllowed` for missing mandatory mentions or bad amounts;
    `AlreadyInvoiced` (an `AlreadyDone`, carrying `.invoice`) when the source
    already has its invoice.
    """
    _validate(
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
    if not source_type or str(source_id) == "":
        raise NotAllowed("an invoice says what it bills: source_type and source_id")
    existing = find_by_source(session, freelancer_id, source_type, source_id)
    if existing is not None:
        raise AlreadyInvoiced(existing)
    return _create(
        session,
        kind=KIND_INVOICE,
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
    )


# --- status ------------------------------------------------------------------


def _derived_status(invoice: Invoice) -> str:
    total = invoice.total_incl_vat_minor
    credited = credited_minor(invoice)
    paid = paid_minor(invoice)
    if credited >= total:
        return CREDITED
    if paid > 0 and paid + credited >= total:
        return PAID
    if paid > 0:
        return PARTIALLY_PAID
    return ISSUED


def _refresh_status(session: Session, invoice: Invoice, *, actor: str) -> None:
    old, new = invoice.status, _derived_status(invoice)
    if not MACHINE.check(old, new, what=f"invoice {invoice.number}"):
        return
    invoice.status = new
    session.flush()
    events.record(
        session,
        subject_type="invoice",
        subject_id=invoice.id,
        action=f"invoice_{new}",
        actor=actor,
        freelancer_id=invoice.freelancer_id,
        data={"from": old, "number": invoice.number, "balance_due_minor": balance_due(invoice)},
    )
    for fn in list(_subscribers):
        fn(session, invoice, old, new)


def _locked_invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = lock(session, Invoice, invoice_id)
    if invoice is None:
        raise NotAllowed(f"no invoice {invoice_id}")
    # Collections may be stale after the lock's reload.
    session.refresh(invoice, ["payments", "credit_notes"])
    return invoice


# --- payments ------------------------------------------------------------------


def record_payment(
    session: Session,
    invoice_id: int,
    *,
    amount_minor: int,
    method: str,
    paid_at: datetime,
    payment_id: int | None = None,
    reference: str = "",
    actor: str = events.SYSTEM,
) -> InvoicePayment:
    """Record money received against an invoice, never more than its balance.

    A ledger payment is recorded once: a second time raises `AlreadyDone`.
    """
    amount_minor = _check_int("amount_minor", amount_minor)
    if amount_minor <= 0:
        raise NotAllowed("a payment amount must be positive")
    if method not in METHODS:
        raise NotAllowed(f"method must be one of {METHODS}")
    if paid_at.tzinfo is None:
        raise NotAllowed("paid_at must be timezone-aware")
    paid_at = paid_at.astimezone(UTC)
    invoice = _locked_invoice(session, invoice_id)
    if invoice.kind != KIND_INVOICE:
        raise NotAllowed("a credit note is not paid: refund through the payment instead")
    if payment_id is not None:
        if any(p.payment_id == payment_id for p in invoice.payments):
            raise AlreadyDone(f"payment {payment_id} is already recorded on {invoice.number}")
        payment = session.get(Payment, payment_id)
        if payment is None or payment.freelancer_id != invoice.freelancer_id:
            raise NotAllowed(f"no payment {payment_id} for this freelancer")
        if payment.currency != invoice.currency:
            raise NotAllowed("the payment and the invoice are in different currencies")
    if invoice.status == CREDITED:
        raise NotAllowed(f"invoice {invoice.number} is cancelled by credit notes")
    balance = balance_due(invoice)
    if balance == 0:
        raise NotAllowed(f"invoice {invoice.number} has nothing left to pay")
    if amount_minor > balance:
        raise NotAllowed(f"the amount exceeds the balance due ({balance})")
    row = InvoicePayment(
        invoice=invoice,
        amount_minor=amount_minor,
        method=method,
        paid_at=paid_at,
        payment_id=payment_id,
        reference=reference.strip()[:200],
    )
    session.add(row)
    session.flush()
    events.record(
        session,
        subject_type="invoice",
        subject_id=invoice.id,
        action="invoice_payment_recorded",
        actor=actor,
        freelancer_id=invoice.freelancer_id,
        data={
            "amount_minor": amount_minor,
            "currency": invoice.currency,
            "method": method,
            "paid_at": paid_at.isoformat(),
            "payment_id": payment_id,
            "reference": row.reference,
        },
    )
    _refresh_status(session, invoice, actor=actor)
    return row


# --- credit notes --------------------------------------------------------------


def issue_credit_note(
    session: Session,
    invoice_id: int,
    *,
    amount_minor: int | None = None,
    reason: str,
    issue_date: date,
    actor: str = events.SYSTEM,
) -> Invoice:
    """Issue an avoir on an invoice: in full (`None`: what is not yet credited) or partly.

    The amount includes VAT and is never more than what is left to credit. A
    partial credit on an invoice with several VAT rates is refused (credit it
    in full and issue a new invoice), since how to split it is a choice the
    law leaves to the freelancer.
    """
    if not reason or not reason.strip():
        raise NotAllowed("a credit note states its reason")
    invoice = _locked_invoice(session, invoice_id)
    if invoice.kind != KIND_INVOICE:
        raise NotAllowed("a credit note cannot itself be credited")
    if issue_date < invoice.issue_date:
        raise NotAllowed("a credit note cannot be dated before the invoice it credits")
    creditable = invoice.total_incl_vat_minor - credited_minor(invoice)
    if creditable <= 0:
        raise AlreadyDone(f"invoice {invoice.number} is already fully credited")
    if amount_minor is not None:
        amount_minor = _check_int("amount_minor", amount_minor)
        if not 0 < amount_minor <= creditable:
            raise NotAllowed(f"the credited amount must be between 1 and {creditable}")
    amount = creditable if amount_minor is None else amount_minor
    if amount == invoice.total_incl_vat_minor:
        # In full: the same lines, so every VAT rate is reversed exactly.
        lines = [
            Line(
                description=li.description,
                quantity=Decimal(li.quantity_milli) / 1000,
                unit_amount_minor=li.unit_amount_minor,
                vat_rate_bp=li.vat_rate_bp,
                unit_includes_vat=li.unit_includes_vat,
            )
            for li in invoice.lines
        ]
    else:
        rates = {li.vat_rate_bp for li in invoice.lines}
        if len(rates) != 1:
            raise NotAllowed(
                "this invoice has several VAT rates: credit it in full, then issue a new one"
            )
        # One line priced VAT included: its total is exactly the credited amount.
        lines = [Line(reason.strip(), 1, amount, rates.pop(), unit_includes_vat=True)]
    n = 1 + len(invoice.credit_notes)
    note = _create(
        session,
        kind=KIND_CREDIT_NOTE,
        freelancer_id=invoice.freelancer_id,
        seller=invoice.seller,
        buyer=invoice.buyer,
        lines=lines,
        currency=invoice.currency,
        issue_date=issue_date,
        service_date=invoice.service_date,
        due_date=issue_date,
        vat_regime=invoice.vat_regime,
        penalty_rate_bp=invoice.penalty_rate_bp,
        recovery_indemnity=False,
        iban=invoice.iban,
        bic=invoice.bic,
        source_type="invoice",
        source_id=f"{invoice.id}:{n}",
        locale=invoice.locale,
        actor=actor,
        credited_invoice_id=invoice.id,
        reason=reason.strip(),
    )
    events.record(
        session,
        subject_type="invoice",
        subject_id=invoice.id,
        action="invoice_credit_note_issued",
        actor=actor,
        freelancer_id=invoice.freelancer_id,
        data={"credit_note": note.number, "amount_minor": amount, "reason": reason.strip()},
    )
    session.refresh(invoice, ["credit_notes"])
    _refresh_status(session, invoice, actor=actor)
    return note
