"""Validation of quotes and milestone actions; the same schemas serve the pages and the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
)
from stdnum.fr import siret as stdnum_siret

from webapp import checkout_fields
from webapp.accounts.schemas import CURRENCIES
from webapp.clients import ClientSchema
from webapp.quotes.transitions import ON_DATE, TRIGGERS
from webapp.validation import BoundedDate, Id

MAX_MINOR = 10**11  # a billion euros: anything larger is a typo


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class QuoteClientSchema(ClientSchema):
    """The shared client identity (webapp.clients) plus the older text fields: `siret`
    (its first nine digits give the SIREN) and a free-text `address`."""

    siret = fields.String(load_default="")
    address = fields.String(load_default="", validate=validate.Length(max=1000))
    # The client's language for the quote, its e-mails and invoices; default: the freelancer's.
    locale = fields.String(load_default=None, validate=validate.OneOf(["fr", "en"]))

    @validates("siret")
    def _siret(self, value: str, **_: Any) -> None:
        if value and not stdnum_siret.is_valid(value):
            raise ValidationError("Not a valid SIRET: 14 digits with a valid check digit.")

    @pre_load
    def _siren_from_siret(self, data: Any, **_: Any) -> Any:
        # A SIRET is a SIREN and a 5-digit establishment number.
        if isinstance(data, dict) and data.get("siret") and not data.get("siren"):
            compact = str(data["siret"]).replace(" ", "")
            if stdnum_siret.is_valid(compact):
                data = {**data, "siren": compact[:9]}
        return data

    @post_load
    def _compact_siret(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "siret" in data:
            data["siret"] = stdnum_siret.compact(data["siret"]) if data["siret"] else ""
        return data


class QuoteLineSchema(StrictSchema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=500))
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(1, 100_000))
    unit_amount_minor = fields.Integer(
        strict=True, required=True, validate=validate.Range(0, MAX_MINOR)
    )


class QuoteMilestoneSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    amount_minor = fields.Integer(
        strict=True,
        validate=validate.Range(1, MAX_MINOR, error="Must be a positive amount in minor units."),
    )
    percent = fields.Decimal(
        places=None,
        validate=validate.Range(Decimal("0.01"), Decimal(100), error="Between 0.01 and 100."),
    )
    trigger = fields.String(required=True, validate=validate.OneOf(TRIGGERS))
    due_date = BoundedDate(allow_none=True, load_default=None)

    @validates("percent")
    def _two_decimals(self, value: Decimal, **_: Any) -> None:
        if value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValidationError("At most two decimals.")

    @post_load
    def _shape(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        has_amount, has_percent = "amount_minor" in data, "percent" in data
        if has_amount == has_percent:
            raise ValidationError(
                {"amount_minor": ["Give either amount_minor or percent, not both or neither."]}
            )
        if data["trigger"] == ON_DATE and data["due_date"] is None:
            raise ValidationError({"due_date": ["An on_date milestone needs its due date."]})
        if has_percent:
            data["percent_bp"] = int(data.pop("percent") * 100)
        return data


class QuoteSchema(StrictSchema):
    """`POST /quotes` (and, with `partial=PATCH_PARTIAL`, `PATCH /quotes/{id}`)."""

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    currency = fields.String(load_default=None)
    client = fields.Nested(QuoteClientSchema, required=True)
    terms = fields.String(load_default="", validate=validate.Length(max=20_000))
    valid_until = BoundedDate(load_default=None)
    auto_approve_days = fields.Integer(strict=True, load_default=7, validate=validate.Range(1, 60))
    lines = fields.List(
        fields.Nested(QuoteLineSchema), load_default=list, validate=validate.Length(max=100)
    )
    milestones = fields.List(
        fields.Nested(QuoteMilestoneSchema), required=True, validate=validate.Length(min=1, max=20)
    )

    @validates("currency")
    def _currency(self, value: str | None, **_: Any) -> None:
        if value is not None and value.lower() not in CURRENCIES:
            raise ValidationError("Unknown currency; use an ISO 4217 code such as eur.")

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("currency"):
            data["currency"] = data["currency"].lower()
        return data


# `PATCH /quotes/{id}`: every top-level field and every client field may be left out
# (the current version's value is kept); `lines` and `milestones`, when given,
# replace the current ones and each item is complete.
PATCH_PARTIAL = (
    "title",
    "currency",
    "client",
    "terms",
    "valid_until",
    "auto_approve_days",
    "lines",
    "milestones",
    *(f"client.{name}" for name in QuoteClientSchema._declared_fields),
)


class QuoteAcceptSchema(StrictSchema):
    signer_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    accept_terms = fields.Boolean(required=True)

    @validates("accept_terms")
    def _ticked(self, value: bool, **_: Any) -> None:
        if value is not True:
            raise ValidationError("Tick the box to accept the terms.")


class QuoteConfirmSchema(StrictSchema):
    acceptance_id = Id(load_default=None, allow_none=True)
    # `card_step` `payment`: the card made on the page (createPaymentMethod).
    payment_method_id = checkout_fields.payment_method_id()


class QuoteDeclineSchema(StrictSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class MilestoneDeliverSchema(StrictSchema):
    note = fields.String(load_default="", validate=validate.Length(max=5000))


class ClientMilestoneSchema(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(min=10, max=200))
    reason = fields.String(load_default="", validate=validate.Length(max=5000))


class MilestoneResolveSchema(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf(["revise", "charge", "cancel"]))
    note = fields.String(load_default="", validate=validate.Length(max=5000))


class MilestoneManualPaymentSchema(StrictSchema):
    reference = fields.String(load_default="", validate=validate.Length(max=200))
    paid_on = BoundedDate(load_default=None)
