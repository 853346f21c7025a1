"""Who is billed: the client identity every flow takes (quotes, public bookings, paid
questions) and how it becomes the buyer side of an invoice.

One schema, one set of rules (issue 11):

- a consumer: a name and an e-mail; an address when they give one;
- a business in France: `company`, `siren` (9 digits, Luhn) and a structured
  `postal_address` (CGI ann. II art. 242 nonies A; Code de commerce L441-9;
  the SIREN is mandatory on invoices under the e-invoicing reform, décret
  2022-1299);
- a business in another EU country: `vat_number` and `postal_address`; the
  VAT is then reverse-charged ("Autoliquidation", CGI art. 283-2, art. 196 of
  directive 2006/112/EC).

A flow subclasses `ClientSchema` for its own extras (a booking's time zone,
the client's language) and stores `details(data)` in its `client_details`.
The schemas live in `webapp.client_schemas` (re-exported here): invoicing a
client, which every money flow does, does not import marshmallow.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from babel import Locale

from billing.invoicing.mentions import EU_COUNTRIES
from billing.invoicing.validation import Party
from webapp.validation import N_


@cache
def countries() -> frozenset[str]:
    """ISO 3166 alpha-2 codes (babel's territory data, read on first use, not at import)."""
    return frozenset(code for code in Locale("en").territories if len(code) == 2)


DETAIL_KEYS = ("company", "siren", "vat_number", "postal_address")


def country_of(data: dict[str, Any]) -> str:
    """The client's country: their address's, else their VAT number's, else France."""
    address = data.get("postal_address") or {}
    if address.get("country"):
        return address["country"].upper()
    vat = data.get("vat_number") or ""
    if len(vat) > 2 and vat[:2].isalpha():
        return "GR" if vat[:2].upper() == "EL" else vat[:2].upper()
    return "FR"


def business_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """What a business client lacks, field by field (empty when complete)."""
    errors: dict[str, list[str]] = {}
    country = country_of(data)
    required = ("company", "siren", "postal_address") if country == "FR" else ("postal_address",)
    if country != "FR" and country in EU_COUNTRIES:
        required = ("vat_number", "postal_address")
    messages = {
        "company": N_("A business client's company name is required."),
        "siren": N_("A French business client's SIREN is required (9 digits)."),
        "vat_number": N_("An EU business client's VAT number is required."),
        "postal_address": N_("A business client's postal address is required."),
    }
    for key in required:
        if not data.get(key):
            errors[key] = [messages[key]]
    return errors


def details(data: dict[str, Any]) -> dict[str, Any]:
    """The `client_details` a flow stores: company, SIREN, VAT number, postal address."""
    return {key: data.get(key) or ("" if key != "postal_address" else None) for key in DETAIL_KEYS}


def reverse_charge(is_business: bool, client_details: dict[str, Any] | None) -> bool:
    """VAT reverse-charged: a business client established in another EU state with a VAT number."""
    d = client_details or {}
    country = country_of(d)
    return bool(is_business and d.get("vat_number") and country != "FR" and country in EU_COUNTRIES)


def format_address(address: dict[str, Any] | None) -> str:
    """The address as lines of text (what documents print)."""
    if not address:
        return ""
    lines = [address.get("line1", ""), address.get("line2", "")]
    lines.append(f"{address.get('postal_code', '')} {address.get('city', '')}".strip())
    if address.get("country") and address["country"] != "FR":
        lines.append(Locale("fr").territories.get(address["country"], address["country"]))
    return "\n".join(line for line in lines if line)


def buyer_party(
    name: str, email: str, is_business: bool, client_details: dict[str, Any] | None
) -> Party:
    """The buyer side of an invoice from a client's identity."""
    d = client_details or {}
    siren = d.get("siren") or ""
    return Party(
        name=name,
        legal_name=(d.get("company") or name) if is_business else name,
        siret="",
        address=format_address(d.get("postal_address")),
        email=email,
        is_business=is_business,
        vat_number=d.get("vat_number") or None,
        siren=siren,
        postal_address=d.get("postal_address"),
    )


def dump(name: str, email: str, is_business: bool, client_details: dict[str, Any] | None) -> dict:
    """The client as the API shows it."""
    d = client_details or {}
    return {
        "name": name,
        "email": email,
        "is_business": is_business,
        "company": d.get("company") or "",
        "siren": d.get("siren") or "",
        "vat_number": d.get("vat_number") or "",
        "postal_address": d.get("postal_address"),
    }


_SCHEMAS = ("AddressSchema", "ClientSchema", "check_vat_number")


def __getattr__(name: str) -> object:
    if name in _SCHEMAS:
        from webapp import client_schemas

        return getattr(client_schemas, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
