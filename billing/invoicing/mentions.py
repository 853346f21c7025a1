"""The mentions frozen on an invoice beside its parties and lines (`Invoice.mentions`).

- `category`: the operation category (décret 2022-1299, e-invoicing reform):
  `services`, `goods` or `mixed`;
- `vat_on_debits`: "Option pour le paiement de la TVA d'après les débits"
  (CGI art. 269-2-c), when the seller opted and charges VAT;
- `reverse_charge`: a business buyer in another EU state: no French VAT, the
  buyer accounts for it ("Autoliquidation", CGI art. 283-2, directive
  2006/112/EC art. 196);
- `quote`: `{number, date, total_minor}` for a deposit or final invoice;
- `deposits`: `[{number, issue_date, total_incl_vat_minor}]`, what a final
  invoice deducts (CGI art. 289 I-1-c);
- `deadline`: a debit note's due date, the formal notice's deadline;
- `original`: `{number, issue_date}`, the invoice a debit note is about.

Framework-free; everything here is plain data a CII XML can also be made from.
"""

from __future__ import annotations

from typing import Any

from billing.invoicing.validation import VAT_STANDARD, Party

EU_COUNTRIES = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
)
CATEGORIES = ("services", "goods", "mixed")


def country_of(party: Party) -> str:
    """The party's country: its address's, else its VAT number's prefix, else France."""
    address = party.postal_address or {}
    if address.get("country"):
        return str(address["country"]).upper()
    vat = party.vat_number or ""
    if len(vat) > 2 and vat[:2].isalpha():
        return "GR" if vat[:2].upper() == "EL" else vat[:2].upper()
    return "FR"


def is_reverse_charge(buyer: Party, vat_regime: str) -> bool:
    """Intra-EU B2B services: the buyer, established in another member state, pays the VAT."""
    country = country_of(buyer)
    return bool(
        vat_regime == VAT_STANDARD
        and buyer.is_business
        and buyer.vat_number
        and country != "FR"
        and country in EU_COUNTRIES
    )


def build(
    *,
    buyer: Party,
    vat_regime: str,
    category: str,
    vat_on_debits: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The mentions of one invoice, as frozen at issue."""
    out: dict[str, Any] = {
        "category": category if category in CATEGORIES else "services",
        "vat_on_debits": bool(vat_on_debits and vat_regime == VAT_STANDARD),
        "reverse_charge": is_reverse_charge(buyer, vat_regime),
    }
    out.update(extra or {})
    return out
