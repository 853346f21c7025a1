"""What every feature calls to back its money with an invoice.

`issue_for_payment` after a card payment succeeded (bookings, milestones,
fees, paid messages: `webapp.invoices.ledger` calls it); `issue_unpaid` for
work paid by bank transfer or after a failed charge (dunning, penalty
invoices). Both flush, never commit. `issue_or_report` is the one savepoint
every issuing site runs them in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from billing.errors import AlreadyDone, BillingError, NotAllowed
from billing.invoicing import mentions, service
from billing.invoicing.models import KIND_DEBIT_NOTE, KIND_INVOICE, Invoice
from billing.invoicing.service import AlreadyInvoiced, Line, Party
from billing.models import Payment
from billing.payments import SUCCEEDED
from webapp.accounts.models import Freelancer
from webapp.invoices.identity import missing_for_invoicing, missing_message, seller_party

log = logging.getLogger(__name__)
T = TypeVar("T")

# What issuing refuses with: an incomplete business profile, lines that do not
# add up to the charge, a value the mandatory mentions reject.
REFUSALS = (BillingError, ValueError)


def issue_or_report(
    session: Session, issue: Callable[[], T], report: Callable[[str], object]
) -> T | None:
    """Run `issue()` in a savepoint; on a refusal roll back to it, call `report(error)`
    and return None.

    An invoice comes after the money moved (or after a failed charge was
    recorded): a document that cannot be issued must never undo that record,
    only leave an event for the freelancer to act on.
    """
    try:
        with session.begin_nested():
            return issue()
    except REFUSALS as exc:
        log.warning("invoice not issued: %s", exc)
        report(str(exc))
        return None


def priced_line(
    freelancer: Freelancer, description: str, amount_minor: int, quantity: int = 1
) -> Line:
    """A line at the price the client pays (VAT included), at the freelancer's VAT rate.

    What a card is charged is a price including VAT; invoicing it this way
    makes the invoice total equal the charge to the cent.
    """
    rate = freelancer.vat_rate_bp if freelancer.vat_regime == service.VAT_STANDARD else 0
    return Line(description, quantity, amount_minor, rate, unit_includes_vat=True)


def local_today(freelancer: Freelancer, now: datetime | None = None) -> date:
    """Today's date where the freelancer works (an invoice date is a local date)."""
    return (now or utcnow()).astimezone(ZoneInfo(freelancer.timezone)).date()


def _issue(
    session: Session,
    freelancer: Freelancer,
    *,
    lines: list[Line],
    buyer: Party,
    currency: str,
    service_date: date,
    due_in_days: int,
    source_type: str,
    source_id: str | int,
    locale: str | None,
    now: datetime | None,
    kind: str = KIND_INVOICE,
    extra_mentions: dict | None = None,
    due_date: date | None = None,
) -> Invoice:
    today = local_today(freelancer, now)
    missing = missing_for_invoicing(freelancer)
    if missing:
        raise NotAllowed(missing_message(missing))
    extra = dict(extra_mentions or {})
    if kind == KIND_DEBIT_NOTE and due_date is not None:
        extra["deadline"] = due_date.isoformat()
    frozen = mentions.build(
        buyer=buyer,
        vat_regime=freelancer.vat_regime,
        category=freelancer.activity,
        vat_on_debits=freelancer.vat_on_debits,
        extra=extra,
    )
    if frozen["reverse_charge"]:
        # Autoliquidation: no French VAT; the price the client pays is the amount excl. VAT.
        lines = [replace(line, vat_rate_bp=0) for line in lines]
    try:
        return service.issue_invoice(
            session,
            freelancer_id=freelancer.id,
            seller=seller_party(freelancer),
            buyer=buyer,
            lines=lines,
            currency=currency,
            issue_date=today,
            service_date=service_date,
            due_date=max(today, due_date) if due_date else today + timedelta(days=due_in_days),
            vat_regime=freelancer.vat_regime,
            penalty_rate_bp=freelancer.penalty_rate_bp,
            iban=freelancer.iban,
            bic=freelancer.bic,
            source_type=source_type,
            source_id=source_id,
            locale=locale or freelancer.locale or "fr",
            kind=kind,
            mentions=frozen,
        )
    except AlreadyInvoiced as exc:
        return exc.invoice


def issue_for_payment(
    session: Session,
    payment: Payment,
    *,
    lines: list[Line],
    buyer: Party,
    service_date: date,
    locale: str | None = None,
    source_type: str,
    source_id: str | int,
    now: datetime | None = None,
    kind: str = KIND_INVOICE,
    extra_mentions: dict | None = None,
) -> Invoice:
    """The invoice backing a succeeded card payment, with the payment recorded on it.

    Idempotent: a second call for the same payment returns the same invoice.
    When the source already has an invoice (issued unpaid, then paid by card
    through dunning), the payment is recorded on it rather than a new one
    issued. The lines must add up to what was captured, to the cent.
    """
    existing = service.find_by_payment(session, payment.id)
    if existing is not None:
        return existing
    if payment.status != SUCCEEDED:
        raise NotAllowed(f"payment {payment.id} is {payment.status}: only money received")
    captured = payment.amount_captured_minor
    freelancer = session.get(Freelancer, payment.freelancer_id)
    assert freelancer is not None
    invoice = service.find_by_source(session, freelancer.id, source_type, source_id)
    if invoice is None:
        total = sum(service.line_amounts(line)[3] for line in lines)
        if total != captured:
            raise NotAllowed(f"the lines total {total}, payment {payment.id} captured {captured}")
        # Already paid: due on the issue date (an explicit date, never "on receipt").
        invoice = _issue(
            session,
            freelancer,
            lines=lines,
            buyer=buyer,
            currency=payment.currency,
            service_date=service_date,
            due_in_days=0,
            source_type=source_type,
            source_id=source_id,
            locale=locale,
            now=now,
            kind=kind,
            extra_mentions=extra_mentions,
        )
    # A concurrent call may have recorded it first (AlreadyDone): same outcome.
    with suppress(AlreadyDone):
        service.record_payment(
            session,
            invoice.id,
            amount_minor=captured,
            method="card",
            paid_at=now or utcnow(),
            payment_id=payment.id,
            reference=payment.stripe_payment_intent_id or "",
            actor=events.SYSTEM,
        )
    return invoice


def issue_unpaid(
    session: Session,
    *,
    freelancer: Freelancer,
    lines: list[Line],
    buyer: Party,
    service_date: date,
    source_type: str,
    source_id: str | int,
    locale: str | None = None,
    currency: str | None = None,
    now: datetime | None = None,
    due_in_days: int | None = None,
    kind: str = KIND_INVOICE,
    extra_mentions: dict | None = None,
    due_date: date | None = None,
) -> Invoice:
    """An invoice to be paid later, due after the freelancer's payment terms
    (or after `due_in_days`: 0 for money already due, e.g. a failed charge).

    Idempotent per source: the existing invoice is returned.
    """
    return _issue(
        session,
        freelancer,
        lines=lines,
        buyer=buyer,
        currency=currency or freelancer.currency,
        service_date=service_date,
        due_in_days=freelancer.payment_terms_days if due_in_days is None else due_in_days,
        source_type=source_type,
        source_id=source_id,
        locale=locale,
        now=now,
        kind=kind,
        extra_mentions=extra_mentions,
        due_date=due_date,
    )
