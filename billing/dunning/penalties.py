"""Late-payment penalties under French law, in integer minor units.

Code de commerce L441-10 (between businesses): interest runs from the day
after the due date on the amount including VAT, at the contractual rate
written on the invoice, or by default the ECB rate + 10 points, the ECB rate
being the one in force on 1 January (first half-year) or 1 July (second
half-year). D441-5: a fixed 40 EUR recovery indemnity ("indemnité forfaitaire
pour frais de recouvrement"), once per late invoice, owed by business
clients only.

Consumers (Code civil 1231-6, Code de la consommation): no indemnity, and
interest at the legal rate (taux de l'intérêt légal) from the formal notice
(mise en demeure), not from the due date.

Day count, decided here: actual/actual by calendar year. Each late day earns
rate / 365, or rate / 366 in a leap year, so a full year late earns exactly
the annual rate whatever the year. Periods are split at every half-year
boundary (a new rate, and maybe a new year length) and at every payment:
interest runs on the balance actually outstanding each day (a payment made on
day P counts from day P + 1). Each period's interest is an exact fraction of
integers rounded half up to the minor unit, so the periods printed on a
letter add up to its total.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from billing.dunning.rates import DEFAULT_TABLE, ECB, ECB_MARGIN_BP, LEGAL, RateTable

RECOVERY_INDEMNITY_EUR_MINOR = 40_00
# Common denominator of every day's share: basis points × both year lengths.
_DENOMINATOR = 10_000 * 365 * 366


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive late days sharing one rate, one year length and one balance."""

    first_day: date
    last_day: date
    days: int
    rate_bp: int
    year_days: int
    balance_minor: int = 0
    interest_minor: int = 0


@dataclass(frozen=True, slots=True)
class Penalties:
    """What a late invoice owes on top of its amount, as of a day."""

    currency: str
    days_late: int
    interest_minor: int
    indemnity_minor: int
    segments: tuple[Segment, ...]
    basis: str  # "contractual", "ecb_plus_10", "legal_rate", "none"

    @property
    def total_minor(self) -> int:
        """Interest plus indemnity."""
        return self.interest_minor + self.indemnity_minor


def year_days(year: int) -> int:
    """365, or 366 in a leap year."""
    return 366 if calendar.isleap(year) else 365


def _next_half_year(day: date) -> date:
    return date(day.year, 7, 1) if day.month <= 6 else date(day.year + 1, 1, 1)


def split_days(first_day: date, last_day: date) -> list[tuple[date, date]]:
    """Cut [first_day, last_day] (inclusive) at each 1 January and 1 July."""
    out: list[tuple[date, date]] = []
    start = first_day
    while start <= last_day:
        end = min(last_day, _next_half_year(start) - timedelta(days=1))
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


def _round_half_up(numerator: int) -> int:
    return (2 * numerator + _DENOMINATOR) // (2 * _DENOMINATOR)


def interest(
    amount_minor: int,
    segments: list[tuple[date, date, int]],
    payments: Sequence[tuple[date, int]] = (),
) -> tuple[int, tuple[Segment, ...]]:
    """Interest over (first, last, rate_bp) periods on the balance outstanding each day.

    `payments` are (paid_on, amount_minor): the balance drops from the next day.
    """
    cuts = sorted({paid_on + timedelta(days=1) for paid_on, _ in payments})
    out: list[Segment] = []
    for first, last, rate_bp in segments:
        for start, end in split_days(first, last):
            pieces = [start, *(c for c in cuts if start < c <= end), end + timedelta(days=1)]
            for lo, hi in zip(pieces, pieces[1:], strict=False):
                paid = sum(a for on, a in payments if on < lo)
                balance = max(0, amount_minor - paid)
                days = (hi - lo).days
                length = year_days(lo.year)
                numerator = balance * rate_bp * days * (_DENOMINATOR // (10_000 * length))
                out.append(
                    Segment(
                        lo,
                        hi - timedelta(days=1),
                        days,
                        rate_bp,
                        length,
                        balance,
                        _round_half_up(numerator),
                    )
                )
    return sum(s.interest_minor for s in out), tuple(out)


def compute(
    amount_minor: int,
    currency: str,
    *,
    due_date: date,
    as_of: date,
    business: bool,
    contractual_rate_bp: int | None = None,
    formal_notice_date: date | None = None,
    table: RateTable = DEFAULT_TABLE,
    payments: Sequence[tuple[date, int]] = (),
) -> Penalties:
    """The penalties of an invoice of `amount_minor` (VAT included) due on `due_date`.

    Nothing is owed on the due date itself; the first late day is the day
    after. Business clients: interest from the day after `due_date` at
    `contractual_rate_bp` or ECB + 10 points, plus the 40 EUR indemnity (EUR
    invoices only: the decree states the sum in euros). Consumers: legal-rate
    interest from the day after `formal_notice_date` (none before a notice),
    never the indemnity. `payments` (paid_on, amount_minor) lower the balance
    interest runs on. `rates.MissingRate` when a half-year's rate is not in
    `table`.
    """
    if amount_minor < 0:
        raise ValueError("amount_minor must not be negative")
    days_late = max(0, (as_of - due_date).days)
    if business:
        start = due_date + timedelta(days=1)
        basis = "contractual" if contractual_rate_bp is not None else "ecb_plus_10"
    else:
        start = formal_notice_date + timedelta(days=1) if formal_notice_date else None
        start = max(start, due_date + timedelta(days=1)) if start else None
        basis = "legal_rate" if start else "none"
    periods: list[tuple[date, date, int]] = []
    if start is not None and start <= as_of:
        for first, last in split_days(start, as_of):
            if not business:
                rate = table.rate_on(LEGAL, first)
            elif contractual_rate_bp is not None:
                rate = contractual_rate_bp
            else:
                rate = table.rate_on(ECB, first) + ECB_MARGIN_BP
            periods.append((first, last, rate))
    interest_minor, segments = interest(amount_minor, periods, payments)
    indemnity = (
        RECOVERY_INDEMNITY_EUR_MINOR if business and days_late > 0 and currency == "eur" else 0
    )
    return Penalties(currency, days_late, interest_minor, indemnity, segments, basis)
