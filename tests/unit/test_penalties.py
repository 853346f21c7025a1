"""Late-payment penalties (Code de commerce L441-10, D441-5): pure integer arithmetic."""

from __future__ import annotations

from datetime import date

import pytest

from billing.dunning import penalties
from billing.dunning.rates import DEFAULT_TABLE, ECB, LEGAL, Rate, RateTable

EUR_1000 = 1000_00


def b2b(amount=EUR_1000, *, due, as_of, rate=None, currency="eur"):
    return penalties.compute(
        amount, currency, due_date=due, as_of=as_of, business=True, contractual_rate_bp=rate
    )


@pytest.mark.parametrize(
    "as_of, days, interest, indemnity",
    [
        (date(2025, 3, 30), 0, 0, 0),  # the day before the due date
        (date(2025, 3, 31), 0, 0, 0),  # the due date itself: not late yet
        (date(2025, 4, 1), 1, 27, 40_00),  # first late day: 1000 € × 10 % / 365 = 0.27397 €
        (date(2025, 4, 2), 2, 55, 40_00),  # 0.54795 € rounds half up to 0.55 €
    ],
)
def test_due_date_boundary(as_of, days, interest, indemnity):
    result = b2b(due=date(2025, 3, 31), as_of=as_of, rate=1000)
    assert (result.days_late, result.interest_minor, result.indemnity_minor) == (
        days,
        interest,
        indemnity,
    )


@pytest.mark.parametrize(
    "due, as_of, year_days",
    [
        (date(2023, 12, 31), date(2024, 12, 31), 366),  # leap year: 366 days
        (date(2024, 12, 31), date(2025, 12, 31), 365),
    ],
)
def test_a_full_year_late_earns_exactly_the_annual_rate(due, as_of, year_days):
    # actual/actual: each day of a leap year is 1/366 of the rate
    result = b2b(due=due, as_of=as_of, rate=1000)
    assert result.days_late == year_days
    assert result.interest_minor == 100_00


def test_leap_day_counts_at_one_366th():
    # 28 Feb → 29 Feb 2024: one day, 1000 € × 10 % / 366 = 0.27322 €
    assert b2b(due=date(2024, 2, 28), as_of=date(2024, 2, 29), rate=1000).interest_minor == 27
    # 100 000 € makes the difference between /365 and /366 visible
    big = b2b(100_000_00, due=date(2024, 2, 28), as_of=date(2024, 2, 29), rate=1000)
    assert big.interest_minor == 2732  # /365 would give 2740


def test_ecb_rate_changes_mid_period_split_the_computation():
    # given the default rate (ECB + 10 points), late from 21 June to 10 July 2024
    result = b2b(due=date(2024, 6, 20), as_of=date(2024, 7, 10))
    # then June days use the rate of 1 January (4.50 %) and July days that of 1 July (4.25 %)
    assert [(s.days, s.rate_bp, s.year_days) for s in result.segments] == [
        (10, 1450, 366),
        (10, 1425, 366),
    ]
    # 1000 € × (14.50 % × 10 + 14.25 % × 10) / 366 = 7.8552 €
    assert result.interest_minor == 786
    assert result.basis == "ecb_plus_10"


def test_year_boundary_changes_the_day_count():
    # 31 Dec 2024 is a 1/366 day, 1 Jan 2025 a 1/365 day
    result = b2b(100_000_00, due=date(2024, 12, 30), as_of=date(2025, 1, 1), rate=1000)
    assert [(s.days, s.year_days) for s in result.segments] == [(1, 366), (1, 365)]
    assert result.interest_minor == 2732 + 2740


def test_consumer_owes_legal_interest_from_the_formal_notice_and_no_indemnity():
    common = dict(due_date=date(2025, 5, 31), as_of=date(2025, 7, 31), business=False)
    before_notice = penalties.compute(EUR_1000, "eur", **common)
    assert (before_notice.interest_minor, before_notice.indemnity_minor) == (0, 0)
    after = penalties.compute(EUR_1000, "eur", formal_notice_date=date(2025, 7, 1), **common)
    # 30 days at the legal rate of H2 2025 (2.76 %): 1000 € × 2.76 % × 30 / 365 = 2.2685 €
    assert after.interest_minor == 227
    assert after.indemnity_minor == 0
    assert after.basis == "legal_rate"


def test_business_vs_consumer_on_the_same_debt():
    kwargs = dict(due_date=date(2025, 5, 31), as_of=date(2025, 6, 30))
    business = penalties.compute(EUR_1000, "eur", business=True, **kwargs)
    consumer = penalties.compute(EUR_1000, "eur", business=False, **kwargs)
    # ECB of 1 Jan 2025 (3.15 %) + 10 points, 30 days: 1000 € × 13.15 % × 30 / 365 = 10.808 €
    assert business.total_minor == 1081 + 40_00
    assert consumer.total_minor == 0


@pytest.mark.parametrize("amount, expected", [(499, 0), (500, 1), (501, 1)])
def test_rounding_half_up_once(amount, expected):
    # one day at 36.50 %: exactly amount / 1000, so 500 → 0.5 → 1 and 499 → 0
    assert b2b(amount, due=date(2025, 3, 1), as_of=date(2025, 3, 2), rate=3650).interest_minor == (
        expected
    )


def test_indemnity_is_euros_only():
    assert b2b(due=date(2025, 3, 1), as_of=date(2025, 3, 2), currency="usd").indemnity_minor == 0


def test_rate_table_uses_the_half_year_value_and_refuses_other_dates():
    assert DEFAULT_TABLE.rate_on(ECB, date(2025, 6, 30)) == 315
    assert DEFAULT_TABLE.rate_on(ECB, date(2025, 7, 1)) == 215
    assert DEFAULT_TABLE.rate_on(LEGAL, date(2024, 3, 15)) == 507
    with pytest.raises(LookupError):
        DEFAULT_TABLE.rate_on(ECB, date(2021, 12, 31))
    with pytest.raises(ValueError, match="1 Jan or 1 Jul"):
        RateTable([Rate(ECB, date(2025, 2, 5), 290)])
