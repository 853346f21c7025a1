"""The client identity's schemas (`webapp.clients` re-exports them; see its docstring)."""

from __future__ import annotations

from typing import Any

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

from webapp.clients import business_errors, countries
from webapp.validation import N_


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
