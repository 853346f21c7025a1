"""Numbers, money, dates and rates as documents print them, through babel.

French typesetting: "1er décembre 2026" (the first of the month is an
ordinal), "20 %" and "1 234,56 €" with narrow no-break spaces, times in the
freelancer's time zone, never UTC unless asked.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

from billing.money import minor_exponent

BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}
NNBSP = "\u202f"


class Formatter:
    """Money, dates, times, rates and quantities in one locale (and time zone)."""

    def __init__(self, locale: str, currency: str, timezone: str = "Europe/Paris") -> None:
        self.lang = locale if locale in BABEL_LOCALES else "fr"
        self.locale = BABEL_LOCALES[self.lang]
        self.currency = currency
        self.tz = ZoneInfo(timezone)

    def money(self, minor: int) -> str:
        """`1 234,56 €`."""
        exp = minor_exponent(self.currency)
        return format_currency(
            Decimal(minor).scaleb(-exp), self.currency.upper(), locale=self.locale
        )

    def date(self, value: date) -> str:
        """`1er décembre 2026`, `22 novembre 2026`; `1 December 2026` in English."""
        text = format_date(value, format="long", locale=self.locale)
        if self.lang == "fr" and value.day == 1 and text.startswith("1 "):
            text = "1er " + text[2:]
        return text

    def datetime(self, value: datetime) -> str:
        """`1er décembre 2026 à 14:05` in the document's time zone."""
        local = value.astimezone(self.tz)
        time = format_datetime(local, "HH:mm", tzinfo=self.tz, locale=self.locale)
        joiner = " à " if self.lang == "fr" else " at "
        return f"{self.date(local.date())}{joiner}{time}"

    def rate(self, basis_points: int) -> str:
        """`12,15 %` (a narrow no-break space before the sign in French)."""
        number = format_decimal(Decimal(basis_points) / 100, locale=self.locale)
        return f"{number}{NNBSP}%" if self.lang == "fr" else f"{number} %"

    def quantity(self, milli: int) -> str:
        """`1,5`."""
        return format_decimal(Decimal(milli) / 1000, locale=self.locale)
