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
"""

from __future__ import annotations

from functools import cache
from typing import Any

from babel import Locale
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)
from stdnum.eu import vat as stdnum_vat
from stdnum.fr import siren as stdnum_siren

from billing.invoicing.mentions import EU_COUNTRIES
from billing.invoicing.validation import Party
from webapp.validation import N_


@cache
def countries() -> frozenset[str]:
    """ISO 3166 alpha-2 codes (babel's territory data, read on first use, not at import)."""
    return frozenset(code for code in Locale("en").territories if len(code) == 2)


DETAIL_KEYS = ("company", "siren", "vat_number", "postal_address")


def check_vat_number(value: str) -> None:
    """An intra-EU VAT number (checksum included), or a field error; empty is allowed."""
    if value and not stdnum_vat.is_valid(value):
        raise ValidationError(N_("Not a valid intra-EU VAT number, e.g. FR40303265045."))


class AddressSchema(Schema):
    """`{line1, line2?, postal_code, city, country}` (ISO 3166 alpha-2), as on invoices."""

    class Meta:
        unknown = RAISE

    line1 = fields.String(required=True, validate=validate.Length(min=1, max=200))
    line2 = fields.String(load_default="", validate=validate.Length(max=200))
    postal_code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    city = fields.String(required=True, validate=validate.Length(min=1, max=100))
    country = fields.String(required=True)

    @validates("country")
    def _country(self, value: str, **_: Any) -> None:
        if value.upper() not in countries():
            raise ValidationError(N_("Use a two-letter ISO 3166 country code, e.g. FR."))

    @validates_schema
    def _complete(self, data: dict[str, Any], **_: Any) -> None:
        # Checked here too: a partial parent load (PATCH /me) makes nested fields optional.
        missing = [k for k in ("line1", "postal_code", "city", "country") if k not in data]
        if missing:
            raise ValidationError({k: [N_("Missing data for required field.")] for k in missing})

    @validates_schema
    def _french_postcode(self, data: dict[str, Any], **_: Any) -> None:
        code = data.get("postal_code", "").strip()
        if data.get("country", "").upper() == "FR" and not (code.isdigit() and len(code) == 5):
            raise ValidationError({"postal_code": [N_("A French postal code has 5 digits.")]})

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {
            "line1": data.get("line1", "").strip(),
            "line2": data.get("line2", "").strip(),
            "postal_code": data.get("postal_code", "").strip(),
            "city": data.get("city", "").strip(),
            "country": data.get("country", "").upper(),
        }


class ClientSchema(Schema):
    """The client of a quote, booking or paid question."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=320))
    is_business = fields.Boolean(load_default=False)
    company = fields.String(load_default="", validate=validate.Length(max=200))
    siren = fields.String(load_default="")
    vat_number = fields.String(load_default="")
    postal_address = fields.Nested(AddressSchema, load_default=None, allow_none=True)

    @validates("siren")
    def _siren(self, value: str, **_: Any) -> None:
        if value and not stdnum_siren.is_valid(value):
            raise ValidationError(N_("Not a valid SIREN: 9 digits with a valid check digit."))

    @validates("vat_number")
    def _vat_number(self, value: str, **_: Any) -> None:
        check_vat_number(value)

    @validates_schema(skip_on_field_errors=True)
    def _business(self, data: dict[str, Any], partial: Any = False, **_: Any) -> None:
        if partial or not data.get("is_business"):
            return
        errors = business_errors(data)
        if errors:
            raise ValidationError(errors)

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # A partial load (`PATCH /quotes/{id}` with some client fields) has only those.
        if "email" in data:
            data["email"] = data["email"].strip().lower()
        for key in ("name", "company"):
            if key in data:
                data[key] = data[key].strip()
        if data.get("siren"):
            data["siren"] = stdnum_siren.compact(data["siren"])
        if data.get("vat_number"):
            data["vat_number"] = stdnum_vat.compact(data["vat_number"])
        return data


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
