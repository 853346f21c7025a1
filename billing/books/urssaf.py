"""The turnover a micro-entrepreneur declares to the URSSAF, per month and per quarter.

What counts is what was cashed in the period (CSS art. L613-7, CGI 50-0: the
receipts of the livre des recettes, refunds deducted), never what was invoiced,
and gross: Stripe's fees are not deducted. The declaration asks sales of goods
(BIC, "vente de marchandises") apart from services (BIC or BNC "prestations de
services"); a receipt takes the category frozen on its invoice. An invoice issued
as "mixed" cannot be split by its receipts alone: it is shown in its own column,
to be split by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from billing.books.exports import Receipt

CATEGORIES = ("goods", "services", "mixed")


@dataclass(slots=True)
class Turnover:
    """Receipts of one period in one currency, by category."""

    period: str  # "2026-01" (a month) or "2026-Q1" (a quarter)
    start: date
    end: date
    currency: str
    goods_minor: int = 0
    services_minor: int = 0
    mixed_minor: int = 0

    @property
    def total_minor(self) -> int:
        """Everything cashed in the period."""
        return self.goods_minor + self.services_minor + self.mixed_minor

    def add(self, receipt: Receipt) -> None:
        """Count one receipt (a refund is negative)."""
        kind = receipt.category if receipt.category in CATEGORIES else "services"
        setattr(self, f"{kind}_minor", getattr(self, f"{kind}_minor") + receipt.amount_minor)


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def months(start: date, end: date) -> list[tuple[str, date, date]]:
    """Each calendar month touching `start`..`end`, as (key, first day, last day)."""
    out = []
    day = date(start.year, start.month, 1)
    while day <= end:
        out.append((f"{day.year}-{day.month:02d}", day, _month_end(day)))
        day = _month_end(day) + timedelta(days=1)
    return out


def quarters(start: date, end: date) -> list[tuple[str, date, date]]:
    """Each calendar quarter touching `start`..`end`, as (key, first day, last day)."""
    out = []
    day = date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    while day <= end:
        last = _month_end(date(day.year, day.month + 2, 1))
        out.append((f"{day.year}-Q{(day.month - 1) // 3 + 1}", day, last))
        day = last + timedelta(days=1)
    return out


def summary(
    rows: list[Receipt], start: date, end: date, currency: str = "eur"
) -> tuple[list[Turnover], list[Turnover]]:
    """(months, quarters): every period touching the range, empty ones included (a
    nil declaration is still one), one line per currency cashed (else `currency`);
    only receipts from `start` to `end` count."""
    currencies = sorted({r.currency for r in rows}) or [currency]
    inside = [r for r in rows if start <= r.paid_on <= end]
    out = []
    for periods in (months(start, end), quarters(start, end)):
        lines = []
        for key, first, last in periods:
            for cur in currencies:
                line = Turnover(key, max(first, start), min(last, end), cur)
                for r in inside:
                    if r.currency == cur and first <= r.paid_on <= last:
                        line.add(r)
                lines.append(line)
        out.append(lines)
    return out[0], out[1]
