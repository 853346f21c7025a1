"""Validation of paid-message input; the same schemas serve pages and the API."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from webapp import checkout_fields
from webapp.accounts.schemas import CURRENCIES
from webapp.clients import ClientSchema
from webapp.messages.models import MAX_ANSWER_DELAY_HOURS

# Stripe refuses charges under about 0.50 in the usual currencies.
MIN_PRICE_MINOR = 50
MAX_PRICE_MINOR = 100_000_00
MAX_TEXT = 10_000


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class MessageSettingsSchema(_Strict):
    """`PUT /messages/settings`: the whole offer at once."""

    enabled = fields.Boolean(required=True)
    price_minor = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(
            MIN_PRICE_MINOR, MAX_PRICE_MINOR, error=_l("Between 50 and 10000000 minor units.")
        ),
    )
    currency = fields.String(required=True)
    urgent_price_minor = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(
            MIN_PRICE_MINOR, MAX_PRICE_MINOR, error=_l("Between 50 and 10000000 minor units.")
        ),
    )
    urgent_delay_hours = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1, max=MAX_ANSWER_DELAY_HOURS),
    )
    answer_delay_hours = fields.Integer(
        strict=True,
        load_default=72,
        validate=validate.Range(
            1,
            MAX_ANSWER_DELAY_HOURS,
            error=_l(
                "Between 1 and %(max)s hours: the card hold lapses after that, "
                "so a later answer could not be paid.",
                max=MAX_ANSWER_DELAY_HOURS,
            ),
        ),
    )
    free_follow_up = fields.Boolean(load_default=True)

    @validates_schema
    def _urgent(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("currency", "").lower() not in CURRENCIES:
            raise ValidationError({"currency": [str(_l("Unknown currency; use e.g. eur."))]})
        price, delay = data.get("urgent_price_minor"), data.get("urgent_delay_hours")
        if (price is None) != (delay is None):
            field = "urgent_delay_hours" if delay is None else "urgent_price_minor"
            raise ValidationError(
                {field: [str(_l("Give both the urgent price and the urgent delay, or neither."))]}
            )
        if delay is not None and delay >= data.get("answer_delay_hours", 72):
            raise ValidationError(
                {"urgent_delay_hours": [str(_l("Must be shorter than the normal delay."))]}
            )

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["currency"] = data["currency"].lower()
        return data


class MessageAskSchema(ClientSchema):
    """`POST /public/freelancers/{slug}/messages`: the client (webapp.clients, flat) and
    the question."""

    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))
    urgent = fields.Boolean(load_default=False)

    @post_load
    def _question(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not data["name"]:
            raise ValidationError({"name": [str(_l("Required."))]})
        if not data["text"].strip():
            raise ValidationError({"text": [str(_l("Write your question."))]})
        return data


class MessageTokenSchema(_Strict):
    """A client's action on their thread: the link token proves who they are."""

    token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class MessageConfirmSchema(MessageTokenSchema):
    """`confirm`: the token, and the card the page made (`card_step` `payment`)."""

    payment_method_id = checkout_fields.payment_method_id()


class MessageFollowUpSchema(MessageTokenSchema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))


class MessageAnswerSchema(_Strict):
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))


class MessageDeclineSchema(_Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class MessageAskCreatedSchema(Schema):
    message_id = fields.Integer()
    token = fields.String()
    setup_intent_client_secret = fields.String()
    publishable_key = fields.String()
    card_step = fields.String()


class MessageConfirmResultSchema(Schema):
    status = fields.String()
    payment_intent_client_secret = fields.String()
    setup_intent_client_secret = fields.String()
    reason = fields.String()


class MessageSchema(Schema):
    """A question as the API shows it (both parties)."""

    id = fields.Integer()
    status = fields.String()
    client = fields.Dict()
    text = fields.String()
    urgent = fields.Boolean()
    amount_minor = fields.Integer()
    currency = fields.String()
    deadline_at = fields.String(allow_none=True)
    seconds_left = fields.Integer(allow_none=True)
    follow_up_of = fields.Integer(allow_none=True)
    answer = fields.Dict(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    capture_error = fields.String(allow_none=True)
    receipt = fields.Dict(allow_none=True)
    attachments = fields.List(fields.Dict())
