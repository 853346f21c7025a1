"""Validation of sign-up and the business profile; the same schemas serve pages and API."""

from __future__ import annotations

import re
import zoneinfo
from decimal import Decimal
from typing import Any

from babel.numbers import list_currencies
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.eu import vat as stdnum_vat
from stdnum.fr import siret as stdnum_siret

from webapp.accounts.models import (
    ACTIVITIES,
    LEGAL_FORMS,
    VAT_FRANCHISE,
    VAT_STANDARD,
    Freelancer,
)
from webapp.clients import AddressSchema, check_vat_number
from webapp.validation import N_

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
# Paths of our own that a freelancer's public page (/<slug>) must not shadow.
RESERVED_SLUGS = frozenset(
    {
        "api",
        "login",
        "logout",
        "password",
        "signup",
        "profile",
        "stripe",
        "dev",
        "static",
        "admin",
        "dashboard",
        "settings",
        "public",
        "pay",
        "quotes",
        "bookings",
        "invoices",
        "supplier-invoices",
        "messages",
        "dunning",
        "offerings",
        "availability",
        "health",
        "healthz",
        "account",
        "help",
        "sessions",
        "milestones",
        "books",
    }
)
CURRENCIES = frozenset(c.lower() for c in list_currencies())
ALL_TIMEZONES = zoneinfo.available_timezones()


def rate_to_bp(value: Decimal) -> int:
    """A percentage with at most two decimals to basis points, exactly."""
    return int(value * 100)


def bp_to_rate(bp: int | None) -> float | None:
    """Basis points back to the percentage the API shows (a JSON number)."""
    return None if bp is None else bp / 100


class Percent(fields.Decimal):
    """A percentage 0–100 with at most two decimals, given as a number or a string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(places=None, validate=validate.Range(0, 100), **kwargs)

    def _validated(self, value: Any) -> Decimal:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._validated(value)
        if number is not None and number.as_tuple().exponent < -2:
            raise ValidationError(N_("At most two decimals."))
        return number


class SignupSchema(Schema):
    class Meta:
        unknown = RAISE

    email = fields.Email(required=True, validate=validate.Length(max=320))
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=10, max=200, error=N_("Use 10 to 200 characters.")),
    )
    display_name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=120, error=N_("Use 1 to 120 characters.")),
    )
    slug = fields.String(required=True)
    locale = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))

    @validates("slug")
    def _slug(self, value: str, **_: Any) -> None:
        if not SLUG_RE.match(value):
            raise ValidationError(
                N_(
                    "3 to 40 lower-case letters, digits or dashes, "
                    "not starting or ending with a dash."
                )
            )
        if value in RESERVED_SLUGS:
            raise ValidationError(N_("This address is reserved."))

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["email"] = data["email"].strip().lower()
        data["display_name"] = data["display_name"].strip()
        return data


class LoginSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenRequestSchema(LoginSchema):
    """`POST /api/v1/tokens`: the credentials, and optionally the token's lifetime and a label."""

    expires_in_days = fields.Integer(
        strict=True,
        validate=validate.Range(1, 365, error=N_("Between 1 and 365 days.")),
        metadata={"description": "Lifetime in days (default 90)."},
    )
    label = fields.String(
        load_default="",
        validate=validate.Length(max=100, error=N_("At most 100 characters.")),
    )


class TokenSchema(Schema):
    """An API token as `GET /api/v1/tokens` lists it (never its secret)."""

    id = fields.Integer()
    label = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)


class PasswordChangeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    current_password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    new_password = fields.String(
        required=True,
        validate=validate.Length(min=10, max=200, error=N_("Use 10 to 200 characters.")),
    )


class ProfileSchema(Schema):
    """The business profile (`GET/PATCH /api/v1/me`). Every field optional on PATCH."""

    class Meta:
        unknown = RAISE

    id = fields.Integer(dump_only=True)
    email = fields.Email(dump_only=True)
    slug = fields.String(dump_only=True)
    display_name = fields.String(validate=validate.Length(min=1, max=120))
    locale = fields.String(validate=validate.OneOf(["fr", "en"]))
    legal_name = fields.String(validate=validate.Length(max=200))
    siret = fields.String()
    address = fields.String(validate=validate.Length(max=1000))
    vat_regime = fields.String(validate=validate.OneOf([VAT_FRANCHISE, VAT_STANDARD]))
    vat_rate = Percent()
    vat_number = fields.String()
    iban = fields.String()
    bic = fields.String()
    timezone = fields.String()
    currency = fields.String()
    penalty_rate = Percent(allow_none=True)
    payment_terms_days = fields.Integer(
        strict=True,
        validate=validate.Range(
            0, 60, error=N_("Between 0 and 60 days (Code de commerce L441-10).")
        ),
    )
    # Legal identity (issue 11; names fixed in CONTRACT.md, "Additions").
    legal_form = fields.String(validate=validate.OneOf(["", *LEGAL_FORMS]))
    share_capital_minor = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(0, 10**13)
    )
    registration = fields.String(validate=validate.Length(max=200))
    insurance = fields.String(validate=validate.Length(max=1000))
    mediator = fields.String(validate=validate.Length(max=1000))
    vat_on_debits = fields.Boolean()
    activity = fields.String(validate=validate.OneOf(ACTIVITIES))
    reply_to = fields.String(validate=validate.Length(max=320))
    # What the public booking page says about the freelancer, under their name.
    bio = fields.String(validate=validate.Length(max=1000))
    postal_address = fields.Nested(AddressSchema, allow_none=True)

    @validates("reply_to")
    def _reply_to(self, value: str, **_: Any) -> None:
        if value and not EMAIL_RE.match(value):
            raise ValidationError(N_("Not a valid e-mail address."))

    @validates("penalty_rate")
    def _penalty_floor(self, value: Decimal | None, **_: Any) -> None:
        # L441-10: an agreed rate may not be below three times the legal interest rate.
        if value is None:
            return
        from webapp.dunning.late_payment import contractual_floor_today

        floor_bp = contractual_floor_today()
        if floor_bp is not None and rate_to_bp(value) < floor_bp:
            raise ValidationError(
                N_(
                    "Below the floor: at least three times the legal interest rate "
                    "(Code de commerce L441-10); leave empty for the legal default."
                )
            )

    @validates("siret")
    def _siret(self, value: str, **_: Any) -> None:
        if value and not stdnum_siret.is_valid(value):
            raise ValidationError(N_("Not a valid SIRET: 14 digits with a valid check digit."))

    @validates("vat_number")
    def _vat_number(self, value: str, **_: Any) -> None:
        check_vat_number(value)

    @validates("iban")
    def _iban(self, value: str, **_: Any) -> None:
        if value and not stdnum_iban.is_valid(value):
            raise ValidationError(N_("Not a valid IBAN (checksum or length is wrong)."))

    @validates("bic")
    def _bic(self, value: str, **_: Any) -> None:
        if value and not stdnum_bic.is_valid(value):
            raise ValidationError(N_("Not a valid BIC: 8 or 11 letters and digits."))

    @validates("timezone")
    def _timezone(self, value: str, **_: Any) -> None:
        if value not in ALL_TIMEZONES:
            raise ValidationError(N_("Unknown time zone; use an IANA name such as Europe/Paris."))

    @validates("currency")
    def _currency(self, value: str, **_: Any) -> None:
        if value.lower() not in CURRENCIES:
            raise ValidationError(N_("Unknown currency; use an ISO 4217 code such as eur."))

    @validates_schema
    def _vat(self, data: dict[str, Any], **kwargs: Any) -> None:
        current: Freelancer | None = self.context_freelancer
        regime = data.get("vat_regime", current.vat_regime if current else VAT_FRANCHISE)
        rate = data.get("vat_rate")
        if regime == VAT_STANDARD:
            has_rate = rate is not None or (
                current is not None and current.vat_rate_bp > 0 and "vat_rate" not in data
            )
            if not has_rate or (rate is not None and rate <= 0):
                raise ValidationError(
                    {"vat_rate": [N_("A VAT rate above 0 is required when you charge VAT.")]}
                )

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        out = dict(data)
        if "siret" in out:
            out["siret"] = stdnum_siret.compact(out["siret"]) if out["siret"] else ""
        if "iban" in out:
            out["iban"] = stdnum_iban.compact(out["iban"]) if out["iban"] else ""
        if "vat_number" in out:
            out["vat_number"] = stdnum_vat.compact(out["vat_number"]) if out["vat_number"] else ""
        if "bic" in out:
            out["bic"] = stdnum_bic.compact(out["bic"]) if out["bic"] else ""
        if "currency" in out:
            out["currency"] = out["currency"].lower()
        if "vat_rate" in out:
            out["vat_rate_bp"] = rate_to_bp(out.pop("vat_rate"))
        if "penalty_rate" in out:
            rate = out.pop("penalty_rate")
            out["penalty_rate_bp"] = None if rate is None else rate_to_bp(rate)
        if out.get("vat_regime") == VAT_FRANCHISE:
            out["vat_rate_bp"] = 0
        return out

    def __init__(self, *args: Any, freelancer: Freelancer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context_freelancer = freelancer


def dump_profile(freelancer: Freelancer) -> dict[str, Any]:
    """The profile as the API shows it (with what invoicing still needs)."""
    from webapp.invoices.identity import missing_for_invoicing

    return {
        "id": freelancer.id,
        "email": freelancer.email,
        "slug": freelancer.slug,
        "display_name": freelancer.display_name,
        "locale": freelancer.locale,
        "legal_name": freelancer.legal_name,
        "siret": freelancer.siret,
        "address": freelancer.address,
        "vat_regime": freelancer.vat_regime,
        "vat_rate": bp_to_rate(freelancer.vat_rate_bp),
        "vat_number": freelancer.vat_number,
        "iban": freelancer.iban,
        "bic": freelancer.bic,
        "timezone": freelancer.timezone,
        "currency": freelancer.currency,
        "penalty_rate": bp_to_rate(freelancer.penalty_rate_bp),
        "payment_terms_days": freelancer.payment_terms_days,
        "legal_form": freelancer.legal_form,
        "share_capital_minor": freelancer.share_capital_minor,
        "registration": freelancer.registration,
        "insurance": freelancer.insurance,
        "mediator": freelancer.mediator,
        "vat_on_debits": freelancer.vat_on_debits,
        "activity": freelancer.activity,
        "reply_to": freelancer.reply_to,
        "postal_address": freelancer.postal_address,
        "bio": freelancer.bio,
        "missing_for_invoicing": missing_for_invoicing(freelancer),
    }
