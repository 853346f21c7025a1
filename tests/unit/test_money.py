"""Money: integer minor units, parsing what people type, formatting for forms."""

from __future__ import annotations

import pytest

from billing.money import CurrencyMismatch, Money, format_major, parse_major


@pytest.mark.parametrize(
    "text, currency, minor",
    [
        ("90", "eur", 9000),
        ("90,5", "eur", 9050),
        ("1 234,50", "eur", 123450),
        ("1\u202f234,50", "eur", 123450),
        ("1234.50", "eur", 123450),
        ("0,01", "eur", 1),
        ("1500", "jpy", 1500),
        ("1.234", "kwd", 1234),
    ],
)
def test_parse_major(text, currency, minor):
    assert parse_major(text, currency) == minor


@pytest.mark.parametrize(
    "text, currency",
    [
        ("", "eur"),
        ("abc", "eur"),
        ("0,001", "eur"),
        ("1.5", "jpy"),
        ("-5", "eur"),
        ("inf", "eur"),
        ("NaN", "eur"),
    ],
)
def test_parse_major_refuses(text, currency):
    assert parse_major(text, currency) is None


def test_format_major_round_trips():
    for minor in (0, 1, 99, 100, 9000, 123450):
        assert parse_major(format_major(minor, "eur"), "eur") == minor
    assert format_major(1500, "jpy") == "1500"


def test_percent_rounds_half_up_in_minor_units():
    assert Money(1001, "eur").percent(5000) == Money(501, "eur")  # 500.5 → 501
    assert Money(999, "eur").percent(3000) == Money(300, "eur")  # 299.7 → 300
    assert Money(10_000, "eur").percent(10_000) == Money(10_000, "eur")


def test_no_floats_and_no_mixed_currencies():
    with pytest.raises(TypeError):
        Money(10.0, "eur")  # type: ignore[arg-type]
    with pytest.raises(CurrencyMismatch):
        Money(1, "eur") + Money(1, "usd")
    with pytest.raises(ValueError):
        Money(1, "EUR")
