"""Validation of dunning actions and settings; the dumps the API answers with."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from billing.dunning.schedule import ACCOUNTS_DEPARTMENT, FREELANCER
from webapp import checkout_fields
from webapp.validation import BoundedDate

MAX_MINOR = 10**11  # a billion euros: anything larger is a typo


class NoteSchema(Schema):
    """A freelancer action with an optional note."""

    class Meta:
        unknown = RAISE

    note = fields.String(load_default="", validate=validate.Length(max=2000))


class PayConfirmSchema(Schema):
    """`POST /public/pay/{token}/confirm`: the card the page made (`card_step` `payment`),
    or nothing after a SetupIntent (other keys are ignored, as they always were)."""

    class Meta:
        unknown = EXCLUDE

    payment_method_id = checkout_fields.payment_method_id()


class DisputeSchema(Schema):
    """The client declares a dispute: a reason is required."""

    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class PromiseSchema(Schema):
    """The client promises to pay by a date (in the future; checked by the service)."""

    class Meta:
        unknown = RAISE

    date = BoundedDate(required=True)


class TemplateTextSchema(Schema):
    class Meta:
        unknown = RAISE

    subject = fields.String(validate=validate.Length(max=300))
    body = fields.String(validate=validate.Length(max=10000))


class SettingsSchema(Schema):
    """Per-freelancer escalation settings (`GET, PUT /dunning/settings`); all optional."""

    class Meta:
        unknown = RAISE

    retry_days = fields.List(
        fields.Integer(strict=True, validate=validate.Range(0, 365)),
        validate=validate.Length(max=5),
    )
    friendly_day = fields.Integer(strict=True, validate=validate.Range(1, 365))
    formal_day = fields.Integer(strict=True, validate=validate.Range(1, 365))
    formal_notice_day = fields.Integer(strict=True, validate=validate.Range(1, 365))
    recourse_day = fields.Integer(strict=True, validate=validate.Range(1, 365))
    final_deadline_days = fields.Integer(strict=True, validate=validate.Range(8, 15))
    call_threshold_minor = fields.Integer(strict=True, validate=validate.Range(0, MAX_MINOR))
    call_day = fields.Integer(strict=True, validate=validate.Range(1, 365))
    signature = fields.String(validate=validate.OneOf([FREELANCER, ACCOUNTS_DEPARTMENT]))
    accounts_department_name = fields.String(validate=validate.Length(max=120))
    bill_penalties = fields.Boolean()
    templates = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Nested(TemplateTextSchema)),
    )


class StepSchema(Schema):
    step = fields.String()
    outcome = fields.String()
    scheduled_at = fields.DateTime()
    done_at = fields.DateTime()


class CaseSchema(Schema):
    """A case as the API shows it."""

    id = fields.Integer()
    status = fields.String()
    reason = fields.String()
    amount_minor = fields.Integer()
    amount_due_minor = fields.Integer()
    currency = fields.String()
    invoice_id = fields.Integer(allow_none=True)
    invoice_number = fields.String(allow_none=True)
    client = fields.Dict()
    subject = fields.Dict()
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    pause = fields.Dict(allow_none=True)
    hard_decline = fields.Boolean()
    penalties = fields.Dict()
    steps = fields.List(fields.Nested(StepSchema))
    next_step = fields.Dict(allow_none=True)
    timeline = fields.List(fields.Dict())


def dump_settings(config: Any) -> dict[str, Any]:
    """The settings as the API shows them."""
    return config.to_dict()
