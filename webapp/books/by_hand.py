"""Invoices by hand (`POST /api/v1/invoices`, the /books/invoices/new page): work billed
to be paid by bank transfer, through the same numbering, mentions and stored
Factur-X PDF as every other invoice (`webapp.invoices.issue.issue_unpaid`).

Past its due date it is an unpaid invoice like any other: the due sweep opens
its dunning case (`webapp.dunning.due`).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from billing.invoicing.models import Invoice
from billing.invoicing.service import VAT_STANDARD, Line
from webapp.accounts.models import Freelancer
from webapp.clients import ClientSchema, buyer_party, details
from webapp.invoices.issue import issue_unpaid, local_today
from webapp.invoices.schemas import MAX_MINOR
from webapp.validation import N_, BoundedDate

SOURCE_TYPE = "manual"


class LineSchema(Schema):
    """One line: `vat_rate` in percent (e.g. "20" or "5.5"); the profile's rate by default."""

    class Meta:
        unknown = RAISE

    description = fields.String(required=True, validate=validate.Length(min=1, max=500))
    quantity = fields.Decimal(
        load_default=Decimal(1),
        validate=validate.Range(min=Decimal("0.001"), max=10**6),
        metadata={"default": 1},  # a number in the OpenAPI document, not "1"
    )
    unit_amount_minor = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=0, max=MAX_MINOR)
    )
    vat_rate = fields.Decimal(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=100)
    )


class InvoiceClientSchema(ClientSchema):
    """The client billed by hand (its own name in the OpenAPI document)."""


class ManualInvoiceSchema(Schema):
    """`POST /invoices`: `{client, lines, due_date, currency}`."""

    class Meta:
        unknown = RAISE

    client = fields.Nested(InvoiceClientSchema, required=True)
    lines = fields.List(
        fields.Nested(LineSchema), required=True, validate=validate.Length(min=1, max=100)
    )
    due_date = BoundedDate(required=True)
    currency = fields.String(load_default="eur", validate=validate.Regexp(r"^[A-Za-z]{3}$"))

    @validates_schema(skip_on_field_errors=True)
    def _lines(self, data: dict[str, Any], **_: Any) -> None:
        for line in data["lines"]:
            milli = line["quantity"] * 1000
            if milli != milli.to_integral_value():
                raise ValidationError({"lines": [N_("A quantity has at most three decimals.")]})
        if sum(line["unit_amount_minor"] * line["quantity"] for line in data["lines"]) <= 0:
            raise ValidationError({"lines": [N_("The invoice's total must be positive.")]})


def _rate_bp(freelancer: Freelancer, vat_rate: Decimal | None) -> int:
    if freelancer.vat_regime != VAT_STANDARD:
        return 0  # franchise en base: "TVA non applicable, art. 293 B du CGI"
    if vat_rate is None:
        return freelancer.vat_rate_bp
    return int((vat_rate * 100).to_integral_value())


def issue_by_hand(session: Session, freelancer: Freelancer, data: dict[str, Any]) -> Invoice:
    """Issue the invoice; flushed. `NotAllowed` for an incomplete profile or bad amounts;
    `ValueError` for a due date before today."""
    today = local_today(freelancer)
    due: date = data["due_date"]
    if due < today:
        raise ValueError("the due date is before today")
    client = data["client"]
    lines = [
        Line(
            line["description"].strip(),
            line["quantity"],
            line["unit_amount_minor"],
            _rate_bp(freelancer, line["vat_rate"]),
        )
        for line in data["lines"]
    ]
    return issue_unpaid(
        session,
        freelancer=freelancer,
        lines=lines,
        buyer=buyer_party(client["name"], client["email"], client["is_business"], details(client)),
        service_date=today,
        source_type=SOURCE_TYPE,
        source_id=uuid.uuid4().hex,
        currency=data["currency"].lower(),
        due_date=due,
    )
