"""The accountant's files: the livre des recettes and the FEC.

- Livre des recettes (CGI art. 50-0 and 102 ter, micro-entrepreneurs): every
  receipt in chronological order with its date, client, nature, amount, payment
  method and invoice reference. Receipts, not invoices: what was cashed in the
  range. A transfer reversed (a bank match undone) and its reversal both leave.
- FEC (LPF art. A47 A-1): the 18 columns in their order, dates YYYYMMDD, amounts
  with a decimal comma, tab separated; one journal for sales (VT: 411 client /
  706 services / 44571 VAT collected) and one for receipts (BQ: 512 bank / 411),
  every EcritureNum balanced.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.invoicing.models import KIND_CREDIT_NOTE, Invoice, InvoicePayment
from billing.money import minor_exponent

FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
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


def _client(invoice: Invoice) -> str:
    buyer = invoice.buyer or {}
    return buyer.get("legal_name") or buyer.get("name") or ""


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
                )
            )
    return out


def decimal_comma(amount_minor: int, currency: str = "eur") -> str:
    """1234,50 — the French accounting notation, no thousands separator."""
    exp = minor_exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, part = divmod(abs(amount_minor), 10**exp)
    return f"{sign}{whole},{part:0{exp}d}" if exp else f"{sign}{whole}"


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


def _clean(text: str) -> str:
    # A tab or a line break inside a field would break the FEC's columns.
    return " ".join((text or "").split())


def fec_rows(session: Session, freelancer_id: int, year: int) -> list[list[str]]:
    """The FEC's lines for a calendar year, header first."""
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.freelancer_id == freelancer_id)
        .order_by(Invoice.issue_date, Invoice.id)
    ).all()
    entries: list[tuple[date, str, str, str, str, list[tuple[str, str, str, int, int]]]] = []
    for inv in invoices:
        client = _clean(_client(inv))
        aux = f"C{inv.id:06d}"
        if inv.issue_date.year == year:
            sign = -1 if inv.kind == KIND_CREDIT_NOTE else 1
            ttc, ht, vat = inv.total_incl_vat_minor, inv.total_excl_vat_minor, inv.total_vat_minor
            legs = [
                ("411000", "Clients", aux, ttc * sign, 0),
                ("706000", "Prestations", "", 0, ht * sign),
            ]
            if vat:
                legs.append(("445710", "TVA collectée", "", 0, vat * sign))
            entries.append(
                (
                    inv.issue_date,
                    "VT",
                    "Ventes",
                    inv.number,
                    client,
                    [(c, lib, a, d, cr) for c, lib, a, d, cr in legs],
                )
            )
        for p in inv.payments:
            day = p.paid_at.date()
            if day.year != year:
                continue
            entries.append(
                (
                    day,
                    "BQ",
                    "Banque",
                    inv.number,
                    client,
                    [
                        ("512000", "Banque", "", p.amount_minor, 0),
                        ("411000", "Clients", aux, 0, p.amount_minor),
                    ],
                )
            )
    entries.sort(key=lambda e: (e[0], e[1]))
    lines = [list(FEC_COLUMNS)]
    for n, (day, journal, journal_lib, piece, client, legs) in enumerate(entries, start=1):
        stamp = day.strftime("%Y%m%d")
        for compte, compte_lib, aux, debit, credit in legs:
            # A negative amount (a credit note, a reversal) goes to the other side.
            if debit < 0 or credit < 0:
                debit, credit = -credit, -debit
            lines.append(
                [
                    journal,
                    journal_lib,
                    f"{journal}{n:06d}",
                    stamp,
                    compte,
                    compte_lib,
                    aux,
                    client if aux else "",
                    piece,
                    stamp,
                    _clean(f"{piece} {client}")[:200],
                    decimal_comma(debit),
                    decimal_comma(credit),
                    "",
                    "",
                    stamp,
                    "",
                    "",
                ]
            )
    return lines


def fec_text(rows: list[list[str]]) -> str:
    """The FEC file: tab separated, CRLF line ends."""
    return "".join("\t".join(r) + "\r\n" for r in rows)


def fec_filename(siren: str, year: int) -> str:
    """`<SIREN>FEC<closing date>.txt`, as A47 A-1 names it."""
    return f"{siren or '000000000'}FEC{year}1231.txt"


def local_now(tz: str) -> datetime:
    """Now where the freelancer works."""
    from billing.db import utcnow

    return utcnow().astimezone(ZoneInfo(tz))
