"""The dated rate tables late-payment interest is computed from.

Two kinds of rate, each fixed per half-year:

- `ECB`: the European Central Bank's main refinancing operations rate. Code
  de commerce L441-10: between businesses the default late-payment rate is
  "le taux appliqué par la Banque centrale européenne à son opération de
  refinancement la plus récente majoré de 10 points de pourcentage", and "le
  taux applicable pendant le premier semestre de l'année concernée est le
  taux en vigueur au 1er janvier de l'année en question; pour le second
  semestre, il est le taux en vigueur au 1er juillet". So one value per
  half-year, read on 1 January / 1 July.
- `LEGAL`: the French legal interest rate (taux de l'intérêt légal, Code
  monétaire et financier L313-2), published by arrêté every half-year. It has
  two values; the one for creditors other than private individuals ("tous
  les autres cas") applies here, the freelancer being a professional
  creditor. It is what a consumer debtor owes (Code civil 1231-6), from the
  formal notice (mise en demeure).

The seed below is the table as of 2026-01; the `dunning_rate` table holds an
editable copy (seeded by migrations 0006_dunning and 0012_documents), so a new
half-year is one row (`flask billing rates add`), not a release. A half-year
with no row stops the computation (`MissingRate`): a rate carried over from an
earlier half-year would print a false figure (2,76 % instead of 2,62 % for the
legal rate of 2026 H1).

Sources:
- ECB: "Key ECB interest rates", ecb.europa.eu/stats/policy_and_exchange_rates/
  key_ecb_interest_rates (MRO: 0.00 % from 2016-03-16; 0.50 % 2022-07-27;
  1.25 % 2022-09-14; 2.00 % 2022-11-02; 2.50 % 2022-12-21; 3.00 % 2023-02-08;
  3.50 % 2023-03-22; 3.75 % 2023-05-10; 4.00 % 2023-06-21; 4.25 % 2023-08-02;
  4.50 % 2023-09-20; 4.25 % 2024-06-12; 3.65 % 2024-09-18; 3.40 % 2024-10-23;
  3.15 % 2024-12-18; 2.90 % 2025-02-05; 2.65 % 2025-03-12; 2.40 % 2025-04-23;
  2.15 % 2025-06-11, unchanged on 2026-01-01). Read on 1 Jan / 1 Jul below.
- Legal rate: arrêtés of the Ministry of the Economy (JORF, December and June),
  as listed by service-public.fr "Taux de l'intérêt légal" / Banque de France.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

ECB = "ecb"
LEGAL = "legal"
KINDS = (ECB, LEGAL)

# Code de commerce L441-10: the ECB rate "majoré de 10 points de pourcentage".
ECB_MARGIN_BP = 1000


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate in basis points (215 = 2.15 %) in force from `valid_from` (1 Jan or 1 Jul)."""

    kind: str
    valid_from: date
    rate_bp: int
    source: str = ""


_ECB_SOURCE = "ECB main refinancing operations rate in force on that day"
_LEGAL_SOURCE = "Taux de l'intérêt légal, autres cas (arrêté, JORF)"

SEED: tuple[Rate, ...] = (
    Rate(ECB, date(2022, 1, 1), 0, _ECB_SOURCE),
    Rate(ECB, date(2022, 7, 1), 0, _ECB_SOURCE),
    Rate(ECB, date(2023, 1, 1), 250, _ECB_SOURCE),
    Rate(ECB, date(2023, 7, 1), 400, _ECB_SOURCE),
    Rate(ECB, date(2024, 1, 1), 450, _ECB_SOURCE),
    Rate(ECB, date(2024, 7, 1), 425, _ECB_SOURCE),
    Rate(ECB, date(2025, 1, 1), 315, _ECB_SOURCE),
    Rate(ECB, date(2025, 7, 1), 215, _ECB_SOURCE),
    Rate(LEGAL, date(2022, 1, 1), 76, _LEGAL_SOURCE),
    Rate(LEGAL, date(2022, 7, 1), 77, _LEGAL_SOURCE),
    Rate(LEGAL, date(2023, 1, 1), 206, _LEGAL_SOURCE),
    Rate(LEGAL, date(2023, 7, 1), 422, _LEGAL_SOURCE),
    Rate(LEGAL, date(2024, 1, 1), 507, _LEGAL_SOURCE),
    Rate(LEGAL, date(2024, 7, 1), 492, _LEGAL_SOURCE),
    Rate(LEGAL, date(2025, 1, 1), 371, _LEGAL_SOURCE),
    Rate(LEGAL, date(2025, 7, 1), 276, _LEGAL_SOURCE),
    Rate(ECB, date(2026, 1, 1), 215, _ECB_SOURCE),
    Rate(LEGAL, date(2026, 1, 1), 262, _LEGAL_SOURCE),
)


class MissingRate(LookupError):
    """No rate of this kind for a half-year: the table must be updated first."""

    def __init__(self, kind: str, start: date) -> None:
        label = "ECB refinancing" if kind == ECB else "legal interest"
        super().__init__(
            f"no {label} rate for the half-year starting {start.isoformat()}: add it with "
            f"`flask --app webapp billing rates add {kind} {start.isoformat()} <percent>`"
        )
        self.kind = kind
        self.start = start


class RateTable:
    """The half-yearly rates of each kind, looked up by day."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        self._by_kind: dict[str, list[Rate]] = {kind: [] for kind in KINDS}
        for rate in rates:
            if rate.valid_from.day != 1 or rate.valid_from.month not in (1, 7):
                raise ValueError(f"{rate.kind} rate must start on 1 Jan or 1 Jul: {rate}")
            self._by_kind[rate.kind].append(rate)
        for rows in self._by_kind.values():
            rows.sort(key=lambda r: r.valid_from)

    def rate_on(self, kind: str, day: date) -> int:
        """The rate of `kind` for `day`'s half-year; `MissingRate` when the table lacks it."""
        start = half_year_start(day)
        for rate in self._by_kind[kind]:
            if rate.valid_from == start:
                return rate.rate_bp
        raise MissingRate(kind, start)

    def rates(self) -> list[Rate]:
        """Every rate, by kind then date."""
        return [rate for kind in KINDS for rate in self._by_kind[kind]]


def half_year_start(day: date) -> date:
    """1 January or 1 July of the half-year `day` falls in."""
    return date(day.year, 1 if day.month <= 6 else 7, 1)


DEFAULT_TABLE = RateTable(SEED)

# L441-10: an agreed rate "ne peut être inférieur à trois fois le taux d'intérêt légal".
FLOOR_MULTIPLIER = 3


def contractual_floor_bp(table: RateTable, day: date) -> int:
    """The lowest contractual late-payment rate allowed on `day` (3 × the legal rate)."""
    return FLOOR_MULTIPLIER * table.rate_on(LEGAL, day)
