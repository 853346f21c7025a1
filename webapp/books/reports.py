"""The books' reports as the API and the page give them: the Stripe payouts reconciled,
the URSSAF turnover, and the PDFs of those and of the livre des recettes (WeasyPrint,
like every document of the app). Money stays integer minor units in JSON and CSV
(decimal comma in CSV); the PDFs format it with babel in the reader's language.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import render_template
from flask_babel import format_currency, format_date, get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from billing.books import exports, payouts, urssaf
from billing.books.fec import decimal_comma
from billing.money import minor_exponent
from billing.typography import Formatter
from webapp.accounts.models import Freelancer

MAX_DAYS = 3660  # a range of at most ten years keeps a report bounded
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def money(minor: int, currency: str) -> str:
    """An amount for people, in the current language (babel)."""
    return format_currency(Decimal(minor).scaleb(-minor_exponent(currency)), currency.upper())


def check_period(start: date, end: date) -> str | None:
    """Why a range is refused, or None."""
    if end < start:
        return _("The end is before the start.")
    if (end - start).days > MAX_DAYS:
        return _("At most ten years at once.")
    return None


# --- payouts -----------------------------------------------------------------------


def _totals(t: payouts.Totals) -> dict[str, Any]:
    return {
        "currency": t.currency,
        "gross_minor": t.gross_minor,
        "refunds_minor": t.refunds_minor,
        "fees_minor": t.fees_minor,
        "net_minor": t.net_minor,
        "paid_out_minor": t.paid_out_minor,
    }


def payouts_json(
    start: date, end: date, reports: list[payouts.PayoutReport], totals: dict[str, payouts.Totals]
) -> dict[str, Any]:
    """`GET /books/payouts`."""
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "payouts": [
            {
                "id": r.stripe_id,
                "arrival_on": r.arrival_on.isoformat(),
                "amount_minor": r.amount_minor,
                "currency": r.currency,
                "status": r.status,
                "bank_booked_on": r.bank_booked_on.isoformat() if r.bank_booked_on else None,
                "difference_minor": r.difference_minor,
                **{k: v for k, v in _totals(r.totals).items() if k != "currency"},
                "transactions": [
                    {
                        "date": t.created_on.isoformat(),
                        "type": t.type,
                        "gross_minor": t.gross_minor,
                        "fee_minor": t.fee_minor,
                        "net_minor": t.net_minor,
                        "currency": t.currency,
                        "invoice_number": t.invoice_number,
                        "client": t.client,
                        "stripe_id": t.stripe_id,
                    }
                    for t in r.lines
                ],
            }
            for r in reports
        ],
        "totals": [_totals(t) for t in totals.values()],
    }


def payouts_csv(reports: list[payouts.PayoutReport]) -> str:
    """One row per balance transaction, under its payout (`;`, decimal comma)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        ["Virement Stripe", "Arrivée", "Date", "Type", "Brut", "Frais", "Net", "Devise"]
        + ["Facture", "Client", "Transaction"]
    )
    for r in reports:
        for t in r.lines:
            writer.writerow(
                [r.stripe_id, r.arrival_on.strftime("%d/%m/%Y"), t.created_on.strftime("%d/%m/%Y")]
                + [t.type, decimal_comma(t.gross_minor, t.currency)]
                + [decimal_comma(t.fee_minor, t.currency), decimal_comma(t.net_minor, t.currency)]
                + [t.currency.upper(), t.invoice_number, t.client, t.stripe_id]
            )
    return out.getvalue()


# --- URSSAF ------------------------------------------------------------------------


def period_label(line: urssaf.Turnover) -> str:
    """ "mars 2026" for a month, "T1 2026" for a quarter, in the reader's language."""
    if "-Q" in line.period:
        year, quarter = line.period.split("-Q")
        return _("Q%(quarter)s %(year)s", quarter=quarter, year=year)
    text = format_date(line.start, "MMMM y")
    return text[:1].upper() + text[1:]  # a row's first word: "Janvier 2026"


def _turnover(line: urssaf.Turnover) -> dict[str, Any]:
    return {
        "period": line.period,
        "from": line.start.isoformat(),
        "to": line.end.isoformat(),
        "currency": line.currency,
        "goods_minor": line.goods_minor,
        "services_minor": line.services_minor,
        "mixed_minor": line.mixed_minor,
        "total_minor": line.total_minor,
    }


@dataclass(frozen=True, slots=True)
class Urssaf:
    """The URSSAF summary of a range, ready for the API, the page and the PDF."""

    start: date
    end: date
    split: bool  # goods apart from services (the account sells goods)
    months: list[urssaf.Turnover]
    quarters: list[urssaf.Turnover]

    def as_json(self) -> dict[str, Any]:
        """`GET /books/urssaf`."""
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "split": self.split,
            "months": [_turnover(m) for m in self.months],
            "quarters": [_turnover(q) for q in self.quarters],
        }

    def as_csv(self) -> str:
        """Months then quarters (`;`, decimal comma)."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(
            ["Période", "Du", "Au", "Ventes de marchandises (BIC)"]
            + ["Prestations de services (BIC/BNC)", "Mixte (à ventiler)", "Total", "Devise"]
        )
        for line in [*self.months, *self.quarters]:
            c = line.currency
            writer.writerow(
                [line.period, line.start.strftime("%d/%m/%Y"), line.end.strftime("%d/%m/%Y")]
                + [decimal_comma(line.goods_minor, c), decimal_comma(line.services_minor, c)]
                + [decimal_comma(line.mixed_minor, c), decimal_comma(line.total_minor, c)]
                + [c.upper()]
            )
        return out.getvalue()


def urssaf_summary(session: Session, freelancer: Freelancer, start: date, end: date) -> Urssaf:
    """The turnover cashed from `start` to `end`, per month and quarter."""
    rows = exports.receipts(session, freelancer.id, start, end, freelancer.timezone)
    months, quarters = urssaf.summary(rows, start, end, freelancer.currency or "eur")
    split = freelancer.activity != "services" or any(r.category != "services" for r in rows)
    return Urssaf(start, end, split, months, quarters)


# --- PDFs ----------------------------------------------------------------------------


def render_pdf(template: str, **context: Any) -> bytes:
    """A books template (templates/books/pdf/) as PDF bytes."""
    from weasyprint import HTML  # heavy import, only when a PDF is made

    # Long dates as documents write them ("1er janvier 2026"), the rest through babel.
    long_date = Formatter(str(get_locale() or "fr"), "eur").date
    html = render_template(template, money=money, day=format_date, long=long_date, **context)
    return HTML(string=html, base_url=str(TEMPLATES / "books" / "pdf")).write_pdf()


def receipts_pdf(session: Session, freelancer: Freelancer, start: date, end: date) -> bytes:
    """The livre des recettes of a range, its totals per currency, Stripe's fees beside."""
    rows = exports.receipts(session, freelancer.id, start, end, freelancer.timezone)
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.currency] = totals.get(r.currency, 0) + r.amount_minor
    fees = payouts.fees_between(session, freelancer.id, start, end, freelancer.timezone)
    return render_pdf(
        "books/pdf/receipts.html",
        freelancer=freelancer,
        start=start,
        end=end,
        rows=rows,
        totals=totals,
        fees=fees,
        methods={"card": _("Card (Stripe)"), "transfer": _("Transfer"), "other": _("Other")},
    )


def urssaf_pdf(session: Session, freelancer: Freelancer, start: date, end: date) -> bytes:
    """The URSSAF summary of a range."""
    summary = urssaf_summary(session, freelancer, start, end)
    return render_pdf(
        "books/pdf/urssaf.html",
        freelancer=freelancer,
        summary=summary,
        label=period_label,
    )


def payouts_pdf(session: Session, freelancer: Freelancer, start: date, end: date) -> bytes:
    """The payouts of a range with what each paid out."""
    found, totals = payouts.reconcile(session, freelancer.id, start, end, freelancer.timezone)
    return render_pdf(
        "books/pdf/payouts.html",
        freelancer=freelancer,
        start=start,
        end=end,
        payouts=found,
        totals=totals,
    )
