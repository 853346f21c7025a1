"""Money: integer minor units plus an ISO 4217 currency. Never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# Currencies whose minor unit is not the cent (ISO 4217 exponent).
_ZERO_DECIMAL = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
_THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


def minor_exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has."""
    code = currency.lower()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents for EUR) and a lower-case ISO currency."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise TypeError("amount_minor must be an int")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.islower():
            raise ValueError(f"currency must be a lower-case ISO 4217 code, got {self.currency!r}")

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def percent(self, basis_points: int) -> Money:
        """The share of this amount at `basis_points` (10000 = 100 %), rounded half up."""
        numerator = self.amount_minor * basis_points
        amount = (numerator + 5000) // 10000 if numerator >= 0 else -((-numerator + 5000) // 10000)
        return Money(amount, self.currency)

    def format(self) -> str:
        """A plain rendering such as `12.50 EUR`, for logs and e-mails."""
        exp = minor_exponent(self.currency)
        sign = "-" if self.amount_minor < 0 else ""
        whole, frac = divmod(abs(self.amount_minor), 10**exp)
        body = f"{whole}.{frac:0{exp}d}" if exp else str(whole)
        return f"{sign}{body} {self.currency.upper()}"


def parse_major(text: str, currency: str) -> int | None:
    """What a person types ("1 234,50", "1234.50", "90") to minor units; None if it is not
    an amount of this currency (bad text, too many decimals, infinite, negative)."""
    cleaned = (
        text.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    )
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    minor = value.scaleb(minor_exponent(currency))
    if minor != minor.to_integral_value():
        return None
    return int(minor)


def format_major(amount_minor: int, currency: str) -> str:
    """Minor units back to what a form shows: 9000 → "90.00" for EUR (no grouping)."""
    exp = minor_exponent(currency)
    return str(Decimal(amount_minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp)))
