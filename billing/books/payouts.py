"""Stripe payouts reconciled: what each payout paid out, so that the money on the bank
statement adds up to the receipts (issue 17).

For each payout arriving in a range: its balance transactions (charges, refunds,
fees), each with gross, fee and net, and the invoice behind it when the payment is
ours. Per payout, and for the range: gross receipts − refunds − fees = net = what
the bank received. A payout whose lines do not add up (a Stripe adjustment, a
transaction not read) is shown with its difference, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.books.models import BankLine, StripeBalanceTxn, StripePayout
from billing.invoicing.models import Invoice, InvoicePayment
from billing.models import Payment, Refund


@dataclass(frozen=True, slots=True)
class PaidOut:
    """One balance transaction of a payout."""

    created_on: date
    type: str
    gross_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    invoice_number: str
    client: str
    stripe_id: str


@dataclass(slots=True)
class Totals:
    """Gross receipts (charges), refunds (negative), fees, net; by currency."""

    currency: str
    gross_minor: int = 0
    refunds_minor: int = 0
    fees_minor: int = 0
    net_minor: int = 0
    paid_out_minor: int = 0

    def add(self, line: PaidOut) -> None:
        """Count one transaction."""
        if line.type == "refund" or line.gross_minor < 0:
            self.refunds_minor += line.gross_minor
        else:
            self.gross_minor += line.gross_minor
        self.fees_minor += line.fee_minor
        self.net_minor += line.net_minor


@dataclass(slots=True)
class PayoutReport:
    """One payout with what it paid out and whether it adds up."""

    stripe_id: str
    arrival_on: date
    amount_minor: int
    currency: str
    status: str
    bank_booked_on: date | None
    lines: list[PaidOut] = field(default_factory=list)
    totals: Totals | None = None

    @property
    def difference_minor(self) -> int:
        """The payout's amount less the net of its lines: 0 when it is reconciled."""
        return self.amount_minor - (self.totals.net_minor if self.totals else 0)


def invoices_by_intent(session: Session, freelancer_id: int) -> dict[str, tuple[str, str]]:
    """PaymentIntent id → (invoice number, client) for the freelancer's card payments."""
    rows = session.execute(
        select(Payment.stripe_payment_intent_id, Invoice.number, Invoice.buyer)
        .join(InvoicePayment, InvoicePayment.payment_id == Payment.id)
        .join(Invoice, InvoicePayment.invoice_id == Invoice.id)
        .where(Payment.freelancer_id == freelancer_id)
    ).all()
    out = {}
    for intent, number, buyer in rows:
        if intent:
            buyer = buyer or {}
            out[intent] = (number, buyer.get("legal_name") or buyer.get("name") or "")
    return out


def _local(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def reconcile(
    session: Session, freelancer_id: int, start: date, end: date, tz: str = "Europe/Paris"
) -> tuple[list[PayoutReport], dict[str, Totals]]:
    """The payouts arriving from `start` to `end` (inclusive), and the totals by currency."""
    zone = ZoneInfo(tz)
    payouts = session.scalars(
        select(StripePayout)
        .where(
            StripePayout.freelancer_id == freelancer_id,
            StripePayout.arrival_on >= start,
            StripePayout.arrival_on <= end,
        )
        .order_by(StripePayout.arrival_on, StripePayout.id)
    ).all()
    names = invoices_by_intent(session, freelancer_id)
    reports: list[PayoutReport] = []
    totals: dict[str, Totals] = {}
    for payout in payouts:
        line = session.get(BankLine, payout.bank_line_id) if payout.bank_line_id else None
        report = PayoutReport(
            stripe_id=payout.stripe_payout_id,
            arrival_on=payout.arrival_on,
            amount_minor=payout.amount_minor,
            currency=payout.currency,
            status=payout.status,
            bank_booked_on=line.booked_on if line else None,
            totals=Totals(payout.currency, paid_out_minor=payout.amount_minor),
        )
        txns = session.scalars(
            select(StripeBalanceTxn)
            .where(StripeBalanceTxn.payout_id == payout.id)
            .order_by(StripeBalanceTxn.created_at, StripeBalanceTxn.id)
        )
        overall = totals.setdefault(payout.currency, Totals(payout.currency))
        overall.paid_out_minor += payout.amount_minor
        for txn in txns:
            number, client = names.get(txn.payment_intent_id, ("", ""))
            paid = PaidOut(
                created_on=_local(txn.created_at, zone),
                type=txn.type,
                gross_minor=txn.amount_minor,
                fee_minor=txn.fee_minor,
                net_minor=txn.net_minor,
                currency=txn.currency,
                invoice_number=number,
                client=client,
                stripe_id=txn.stripe_txn_id,
            )
            report.lines.append(paid)
            report.totals.add(paid)
            overall.add(paid)
        reports.append(report)
    return reports, totals


def fees_between(
    session: Session, freelancer_id: int, start: date, end: date, tz: str = "Europe/Paris"
) -> dict[str, int]:
    """Stripe's fees on transactions made from `start` to `end` (local days), by currency."""
    zone = ZoneInfo(tz)
    out: dict[str, int] = {}
    for txn in session.scalars(
        select(StripeBalanceTxn).where(StripeBalanceTxn.freelancer_id == freelancer_id)
    ):
        if start <= _local(txn.created_at, zone) <= end and txn.fee_minor:
            out[txn.currency] = out.get(txn.currency, 0) + txn.fee_minor
    return out


def card_refunds(session: Session, freelancer_id: int) -> list[tuple[Refund, Payment]]:
    """The freelancer's refunds Stripe confirmed, with the payment each gave back."""
    rows = session.execute(
        select(Refund, Payment)
        .join(Payment, Refund.payment_id == Payment.id)
        .where(Payment.freelancer_id == freelancer_id, Refund.status == "succeeded")
        .order_by(Refund.created_at, Refund.id)
    ).all()
    return [(refund, payment) for refund, payment in rows]
