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
    # each period rounded, the total their sum (the letter's statement adds up):
    # 1000 € × 14.50 % × 10 / 366 = 3.9617 → 3.96; × 14.25 % → 3.8934 → 3.89
    assert [s.interest_minor for s in result.segments] == [396, 389]
    assert result.interest_minor == 785
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


# --- issue 11: the balance actually outstanding, the 2026 rates, missing rates, the floor ---


def test_L441_10_partial_payment_interest_runs_on_the_outstanding_balance():
    # given 2 000 € due 01/03/2025, 1 000 € paid on 01/04/2025, as of 01/05/2025
    result = penalties.compute(
        2000_00,
        "eur",
        due_date=date(2025, 3, 1),
        as_of=date(2025, 5, 1),
        business=True,
        payments=[(date(2025, 4, 1), 1000_00)],
    )
    # then 31 days on 2 000 € and 30 days on 1 000 €, at 3.15 % + 10 points
    assert [(s.first_day, s.days, s.balance_minor) for s in result.segments] == [
        (date(2025, 3, 2), 31, 2000_00),
        (date(2025, 4, 2), 30, 1000_00),
    ]
    assert [s.interest_minor for s in result.segments] == [2234, 1081]
    assert result.interest_minor == 33_15  # not 21,98 € (today's balance over the whole period)


@pytest.mark.parametrize(
    "paid_on, balance_days",
    [
        (date(2025, 3, 31), [(2000_00, 30), (1000_00, 31)]),
        (date(2025, 4, 1), [(2000_00, 31), (1000_00, 30)]),
    ],
)
def test_partial_payment_boundary_counts_from_the_next_day(paid_on, balance_days):
    result = penalties.compute(
        2000_00,
        "eur",
        due_date=date(2025, 3, 1),
        as_of=date(2025, 5, 1),
        business=True,
        payments=[(paid_on, 1000_00)],
    )
    assert [(s.balance_minor, s.days) for s in result.segments] == balance_days


def test_payment_before_the_due_date_lowers_the_whole_period():
    result = penalties.compute(
        2000_00,
        "eur",
        due_date=date(2025, 3, 1),
        as_of=date(2025, 3, 11),
        business=True,
        payments=[(date(2025, 2, 15), 1500_00)],
    )
    assert [(s.balance_minor, s.days) for s in result.segments] == [(500_00, 10)]


def test_legal_rate_2026_first_half_is_2_62():
    # 1 500 € for a consumer, notice 31/12/2025, as of 30/06/2026: 181 days at 2.62 %
    result = penalties.compute(
        1500_00,
        "eur",
        due_date=date(2025, 12, 1),
        as_of=date(2026, 6, 30),
        business=False,
        formal_notice_date=date(2025, 12, 31),
    )
    assert [(s.rate_bp, s.days) for s in result.segments] == [(262, 181)]
    # 1 500 € × 2.62 % × 181 / 365 = 19.49 € (2.76 % would have given 20.53 €)
    assert result.interest_minor == 19_49
    assert result.indemnity_minor == 0


def test_ecb_2026_first_half_is_2_15_plus_10_points():
    assert DEFAULT_TABLE.rate_on(ECB, date(2026, 1, 1)) == 215
    assert DEFAULT_TABLE.rate_on(LEGAL, date(2026, 6, 30)) == 262


@pytest.mark.parametrize("kind", [ECB, LEGAL])
def test_a_missing_half_year_rate_stops_the_computation_with_the_command_to_run(kind):
    from billing.dunning.rates import MissingRate

    with pytest.raises(MissingRate, match=rf"billing rates add {kind} 2026-07-01"):
        DEFAULT_TABLE.rate_on(kind, date(2026, 7, 1))
    with pytest.raises(MissingRate):
        penalties.compute(
            EUR_1000,
            "eur",
            due_date=date(2026, 6, 29),
            as_of=date(2026, 7, 1),
            business=kind == ECB,
            formal_notice_date=date(2026, 6, 29),
        )


def test_rate_change_prints_each_half_year_rate():
    # late across 1 July 2025: 3.15 % + 10 then 2.15 % + 10
    result = b2b(due=date(2025, 6, 29), as_of=date(2025, 7, 2))
    assert [(s.rate_bp, s.days) for s in result.segments] == [(1315, 1), (1215, 2)]


@pytest.mark.parametrize("rate_bp, allowed", [(785, False), (786, True)])
def test_L441_10_contractual_rate_floor_is_three_times_the_legal_rate(rate_bp, allowed):
    from billing.dunning.rates import contractual_floor_bp

    # 2026 H1: 3 × 2.62 % = 7.86 %
    floor = contractual_floor_bp(DEFAULT_TABLE, date(2026, 3, 1))
    assert floor == 786
    assert (rate_bp >= floor) is allowed


def test_consumer_owes_no_indemnity_even_when_late_and_noticed():
    result = penalties.compute(
        EUR_1000,
        "eur",
        due_date=date(2025, 3, 1),
        as_of=date(2025, 4, 1),
        business=False,
        formal_notice_date=date(2025, 3, 10),
    )
    assert result.indemnity_minor == 0 and result.interest_minor > 0
    assert result.segments[0].first_day == date(2025, 3, 11)
