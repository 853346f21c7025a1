"""The accountant's files: the livre des recettes and the FEC.

- Livre des recettes (CGI art. 50-0 and 102 ter, micro-entrepreneurs): every
  receipt in chronological order with its date, client, nature, amount, payment
  method and invoice reference. Receipts, not invoices: what was cashed in the
  range. A transfer reversed (a bank match undone) and its reversal both leave.
  A card payment refunded counts as a negative receipt on the day of the refund.
  Receipts are gross: Stripe's fees are an expense, never deducted here (a
  micro-entrepreneur declares what the clients paid).
- FEC (LPF art. A47 A-1): `billing.books.fec`, re-exported here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.books.fec import FEC_COLUMNS, decimal_comma, fec_filename, fec_rows, fec_text
from billing.books.payouts import card_refunds
from billing.invoicing.models import Invoice, InvoicePayment

__all__ = [
    "FEC_COLUMNS",
    "METHOD_LABELS",
    "Receipt",
    "decimal_comma",
    "fec_filename",
    "fec_rows",
    "fec_text",
    "receipts",
    "receipts_csv",
]

METHOD_LABELS = {"card": "Carte (Stripe)", "transfer": "Virement", "other": "Autre"}


@dataclass(frozen=True, slots=True)
class Receipt:
    """One line of the livre des recettes."""

    paid_on: date
    client: str
    nature: str
    amount_minor: int
    currency: str
    method: str
    invoice_number: str
    # The operation category frozen on the invoice: services, goods or mixed.
    category: str = "services"


def _client(invoice: Invoice) -> str:
    buyer = invoice.buyer or {}
    return buyer.get("legal_name") or buyer.get("name") or ""


def _category(invoice: Invoice) -> str:
    return (invoice.mentions or {}).get("category") or "services"


def receipts(
    session: Session, freelancer_id: int, start: date, end: date, tz: str = "Europe/Paris"
) -> list[Receipt]:
    """Money cashed from `start` to `end` (inclusive, local dates), oldest first."""
    zone = ZoneInfo(tz)
    rows = session.execute(
        select(InvoicePayment, Invoice)
        .join(Invoice, InvoicePayment.invoice_id == Invoice.id)
        .where(Invoice.freelancer_id == freelancer_id)
        .order_by(InvoicePayment.paid_at, InvoicePayment.id)
    ).all()
    reversed_ids = {p.reverses_id for p, _ in rows if p.reverses_id is not None}
    by_payment = {p.payment_id: inv for p, inv in rows if p.payment_id is not None}
    out = []
    for payment, invoice in rows:
        if payment.reverses_id is not None or payment.id in reversed_ids:
            continue
        day = payment.paid_at.astimezone(zone).date()
        if start <= day <= end:
            out.append(
                Receipt(
                    paid_on=day,
                    client=_client(invoice),
                    nature=invoice.lines[0].description if invoice.lines else "",
                    amount_minor=payment.amount_minor,
                    currency=invoice.currency,
                    method=payment.method,
                    invoice_number=invoice.number,
                    category=_category(invoice),
                )
            )
    for refund, payment in card_refunds(session, freelancer_id):
        invoice = by_payment.get(payment.id)
        day = refund.created_at.astimezone(zone).date()
        if invoice is not None and start <= day <= end:
            out.append(
                Receipt(
                    paid_on=day,
                    client=_client(invoice),
                    nature=f"Remboursement — {refund.reason or ''}".rstrip(" —"),
                    amount_minor=-refund.amount_minor,
                    currency=invoice.currency,
                    method="card",
                    invoice_number=invoice.number,
                    category=_category(invoice),
                )
            )
    out.sort(key=lambda r: r.paid_on)
    return out


def receipts_csv(rows: list[Receipt]) -> str:
    """The livre des recettes as CSV (`;`, decimal comma: opens as is in French spreadsheets)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        ["Date", "Client", "Nature", "Montant", "Devise", "Mode de règlement", "Facture"]
    )
    for r in rows:
        writer.writerow(
            [
                r.paid_on.strftime("%d/%m/%Y"),
                r.client,
                r.nature,
                decimal_comma(r.amount_minor, r.currency),
                r.currency.upper(),
                METHOD_LABELS.get(r.method, r.method),
                r.invoice_number,
            ]
        )
    return out.getvalue()


def local_now(tz: str) -> datetime:
    """Now where the freelancer works."""
    from billing.db import utcnow

    return utcnow().astimezone(ZoneInfo(tz))
