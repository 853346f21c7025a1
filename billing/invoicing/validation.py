"""What an invoice is made from — its two parties and its lines — and the
checks the law asks for before a number is taken.

Nothing here touches the database: a refused issue never consumes a number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.errors import NotAllowed

VAT_FRANCHISE = "franchise"
VAT_STANDARD = "vat"
LOCALES = ("fr", "en")

_SIRET = re.compile(r"^\d{14}$")
_CURRENCY = re.compile(r"^[a-z]{3}$")


@dataclass(frozen=True, slots=True)
class Party:
    """One side of an invoice, frozen into the invoice at issue."""

    name: str
    legal_name: str
    siret: str
    address: str
    email: str
    is_business: bool
    vat_number: str | None = None
    # Structured identity (issue 11), kept so a CII XML (Factur-X) can be made from it.
    siren: str = ""
    postal_address: dict | None = None
    # The seller's legal identity (R123-237, R526-26 Code de commerce; loi 96-603
    # art. 22-2; Code de la consommation L616-1); empty on a buyer.
    legal_form: str = ""
    share_capital_minor: int | None = None
    registration: str = ""
    insurance: str = ""
    mediator: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    """A line to invoice.

    `quantity`: an int or an exact Decimal/str with at most three decimals
    (1.5 hours); never a float. `unit_amount_minor` excludes VAT unless
    `unit_includes_vat` (a consumer price: the VAT is taken out of it, so the
    total is exactly what the card was charged).
    """

    description: str
    quantity: int | Decimal | str
    unit_amount_minor: int
    vat_rate_bp: int
    unit_includes_vat: bool = False


def check_int(name: str, value: object) -> int:
    """`value` if it is a true int (minor units, basis points); `NotAllowed` otherwise."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise NotAllowed(f"{name} must be an integer (minor units), got {value!r}")
    return value


def validate_issue(
    *,
    seller: Party,
    buyer: Party,
    lines: Sequence[Line],
    currency: str,
    issue_date: date,
    due_date: date,
    vat_regime: str,
    penalty_rate_bp: int | None,
    locale: str,
) -> None:
    """Refuse (`NotAllowed`) an invoice missing a mandatory mention or with bad amounts."""
    if not seller.legal_name.strip():
        raise NotAllowed("the seller's legal name is required on an invoice")
    if not _SIRET.match(seller.siret.replace(" ", "")):
        raise NotAllowed("the seller's SIRET (14 digits) is required on an invoice")
    if not buyer.name.strip():
        raise NotAllowed("the buyer's name is required on an invoice")
    if not lines:
        raise NotAllowed("an invoice needs at least one line")
    if not _CURRENCY.match(currency):
        raise NotAllowed(f"currency must be a lower-case ISO 4217 code, got {currency!r}")
    if due_date < issue_date:
        raise NotAllowed("the due date cannot be before the issue date")
    if vat_regime not in (VAT_FRANCHISE, VAT_STANDARD):
        raise NotAllowed(f"unknown VAT regime {vat_regime!r}")
    if penalty_rate_bp is not None and check_int("penalty_rate_bp", penalty_rate_bp) < 0:
        raise NotAllowed("the penalty rate cannot be negative")
    if locale not in LOCALES:
        raise NotAllowed(f"locale must be one of {LOCALES}")
    for line in lines:
        if not line.description.strip():
            raise NotAllowed("every line needs a description")
        if check_int("unit_amount_minor", line.unit_amount_minor) < 0:
            raise NotAllowed("a unit amount cannot be negative")
        rate = check_int("vat_rate_bp", line.vat_rate_bp)
        if not 0 <= rate <= 10000:
            raise NotAllowed("a VAT rate is between 0 and 10000 basis points")
        if vat_regime == VAT_FRANCHISE and rate != 0:
            # Franchise en base (CGI art. 293 B): no VAT may be invoiced at all.
            raise NotAllowed("under the VAT franchise every line has a 0 % rate")
