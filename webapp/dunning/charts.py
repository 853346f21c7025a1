"""The receivables dashboard's pictures: bars drawn as server-side SVG geometry.

`monthly_collected` and `days_sales_outstanding` add two figures to
`receivables.compute`; `bars` turns labelled amounts into rectangles the
template draws. No chart library and no script: the page shows a table of the
same numbers beside each picture, which is what a screen reader reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import payments
from billing.invoicing import service as invoicing
from billing.invoicing.models import DEBIT_KINDS, ISSUED, PARTIALLY_PAID, Invoice
from billing.models import Payment

DSO_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Bar:
    """One bar: its label, amount and geometry as a fraction (0–1) of the longest."""

    key: str
    label: str
    amount_minor: int
    share: float


def bars(rows: list[tuple[str, str, int]]) -> list[Bar]:
    """`(key, label, amount)` rows as bars scaled to the largest (all empty when all are 0)."""
    top = max((amount for _k, _l, amount in rows), default=0)
    return [Bar(key, label, amount, amount / top if top else 0.0) for key, label, amount in rows]


def _month_starts(today: date, months: int) -> list[date]:
    first = today.replace(day=1)
    starts = []
    for _ in range(months):
        starts.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return starts[::-1]


def monthly_collected(
    session: Session,
    freelancer_id: int,
    currency: str,
    now: datetime,
    zone: str,
    locale: str,
    months: int = 6,
) -> list[Bar]:
    """Money kept (captured minus refunded) per month of the account's zone, oldest first.

    A payment counts in the month it last changed: its capture, or a later refund.
    """
    tz = ZoneInfo(zone)
    starts = _month_starts(now.astimezone(tz).date(), months)
    since = datetime.combine(starts[0], datetime.min.time(), tzinfo=tz)
    rows = session.execute(
        select(
            Payment.updated_at, Payment.amount_captured_minor - Payment.amount_refunded_minor
        ).where(
            Payment.freelancer_id == freelancer_id,
            Payment.currency == currency,
            Payment.status == payments.SUCCEEDED,
            Payment.updated_at >= since,
        )
    ).all()
    totals = dict.fromkeys(starts, 0)
    for at, kept in rows:
        month = at.astimezone(tz).date().replace(day=1)
        if month in totals:
            totals[month] += int(kept or 0)
    return bars(
        [(m.isoformat(), format_date(m, "MMM yyyy", locale=locale), totals[m]) for m in starts]
    )


def days_sales_outstanding(
    session: Session, freelancer_id: int, currency: str, today: date
) -> int | None:
    """What clients owe, in days of the last 90 days' invoicing (None without invoicing)."""
    mine = (
        Invoice.freelancer_id == freelancer_id,
        Invoice.kind.in_(DEBIT_KINDS),
        Invoice.currency == currency,
    )
    invoiced = session.scalar(
        select(func.coalesce(func.sum(Invoice.total_incl_vat_minor), 0)).where(
            *mine, Invoice.issue_date > today - timedelta(days=DSO_WINDOW_DAYS)
        )
    )
    if not invoiced:
        return None
    unpaid = session.scalars(
        select(Invoice).where(*mine, Invoice.status.in_((ISSUED, PARTIALLY_PAID)))
    )
    owed = sum(invoicing.balance_due(invoice) for invoice in unpaid)
    return round(owed * DSO_WINDOW_DAYS / invoiced)
