"""Invoice arithmetic: per-line rounding half up, integers only, exact quantities."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import NotAllowed
from billing.invoicing.service import Line, line_amounts, quantity_milli


@pytest.mark.parametrize(
    ("quantity", "unit", "rate", "expected"),
    [
        # 20 %: 0.125 € of VAT rounds up to 0.13 (half up), 0.124 rounds down.
        (1, 62, 2000, (1000, 62, 12, 74)),  # 12.4 → 12
        (1, 63, 2000, (1000, 63, 13, 76)),  # 12.6 → 13
        (1, 2, 2500, (1000, 2, 1, 3)),  # 0.5 → 1: the half goes up
        # 5.5 %: 1000 × 5.5 % = 55 exactly; 1009 → 55.495 → 55; 1010 → 55.55 → 56.
        (1, 1000, 550, (1000, 1000, 55, 1055)),
        (1, 1009, 550, (1000, 1009, 55, 1064)),
        (1, 1010, 550, (1000, 1010, 56, 1066)),
        # Quantities in thousandths: 1.5 × 19.99 = 29.985 → 29.99.
        ("1.5", 1999, 0, (1500, 2999, 0, 2999)),
        (Decimal("0.333"), 100, 0, (333, 33, 0, 33)),
        (3, 45_000, 2000, (3000, 135_000, 27_000, 162_000)),
    ],
)
def test_line_amounts_round_once_half_up(quantity, unit, rate, expected):
    assert line_amounts(Line("x", quantity, unit, rate)) == expected


@pytest.mark.parametrize(
    ("price_incl", "rate", "excl", "vat"),
    [
        (12_000, 2000, 10_000, 2_000),  # 120 € incl. 20 % → 100 + 20
        (10_000, 2000, 8_333, 1_667),  # 83.333… → 83.33, the VAT takes the rest
        (10_001, 2000, 8_334, 1_667),  # 83.3416… → 83.34
        (1, 2000, 1, 0),
        (10_550, 550, 10_000, 550),
        (5_000, 0, 5_000, 0),
    ],
)
def test_price_including_vat_splits_exactly(price_incl, rate, excl, vat):
    # The invoice total must equal what the card was charged, to the cent.
    _, got_excl, got_vat, got_incl = line_amounts(
        Line("session", 1, price_incl, rate, unit_includes_vat=True)
    )
    assert (got_excl, got_vat, got_incl) == (excl, vat, price_incl)


@pytest.mark.parametrize("bad", [1.5, True, "abc", "0.0001", 0, -1, "-2"])
def test_quantity_refuses_floats_and_non_positive(bad):
    with pytest.raises(NotAllowed):
        quantity_milli(bad)


@pytest.mark.parametrize(("good", "milli"), [(1, 1000), ("0.001", 1), (Decimal("2.25"), 2250)])
def test_quantity_in_thousandths(good, milli):
    assert quantity_milli(good) == milli
