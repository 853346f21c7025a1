"""E-reporting: the sales that are not e-invoiced, per period (issue 12).

Under the reform, invoices to consumers (B2C) and to businesses abroad (B2BINT)
do not travel through the approved platform; their transaction data is
reported instead. `GET /api/v1/invoices/e-reporting?from=&to=` lists, for the
issue dates in the range, each such invoice (and credit note) with its VAT
breakdown, and the totals per day, category and VAT rate that the platform's
e-reporting flow carries; `GET /api/v1/invoices/e-reporting.csv` gives the same
lines as a CSV file.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema, ValidationError, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.facturx.cii import buyer_kind
from billing.invoicing.models import KIND_CREDIT_NOTE, Invoice
from webapp.api import bp, current_freelancer, token_required
from webapp.api.openapi import documented
from webapp.errors import ApiError, flatten_messages
from webapp.extensions import db
from webapp.validation import BoundedDate

MAX_DAYS = 366
COLUMNS = (
    "issue_date",
    "number",
    "kind",
    "category",
    "currency",
    "vat_rate",
    "base_minor",
    "vat_minor",
)


class PeriodSchema(Schema):
    from_ = BoundedDate(required=True, data_key="from")
    to = BoundedDate(required=True)

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        span = (data["to"] - data["from_"]).days
        if span < 0:
            raise ValidationError("Must not be before `from`.", "to")
        if span >= MAX_DAYS:
            raise ValidationError(f"At most {MAX_DAYS} days.", "to")


def report(session: Session, freelancer_id: int, first: date, last: date) -> dict[str, Any]:
    """The period's B2C and B2BINT invoices, line by VAT rate, and their totals."""
    invoices = session.scalars(
        select(Invoice)
        .where(
            Invoice.freelancer_id == freelancer_id,
            Invoice.issue_date >= first,
            Invoice.issue_date <= last,
        )
        .order_by(Invoice.issue_date, Invoice.id)
    )
    lines: list[dict[str, Any]] = []
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for invoice in invoices:
        category = buyer_kind(invoice.buyer)
        if category == "B2B":
            continue  # e-invoiced through the platform
        sign = -1 if invoice.kind == KIND_CREDIT_NOTE else 1
        by_rate: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for line in invoice.lines:
            by_rate[line.vat_rate_bp][0] += line.total_excl_vat_minor
            by_rate[line.vat_rate_bp][1] += line.vat_minor
        for rate_bp, (base, vat) in sorted(by_rate.items()):
            row = {
                "issue_date": invoice.issue_date.isoformat(),
                "number": invoice.number,
                "kind": invoice.kind,
                "category": category,
                "currency": invoice.currency,
                "vat_rate": rate_bp / 100,
                "base_minor": sign * abs(base),
                "vat_minor": sign * abs(vat),
            }
            lines.append(row)
            key = (row["issue_date"], category, invoice.currency, row["vat_rate"])
            totals[key][0] += row["base_minor"]
            totals[key][1] += row["vat_minor"]
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "lines": lines,
        "totals": [
            {
                "date": day,
                "category": category,
                "currency": currency,
                "vat_rate": rate,
                "base_minor": base,
                "vat_minor": vat,
            }
            for (day, category, currency, rate), (base, vat) in sorted(totals.items())
        ],
    }


_LINE = {
    "type": "object",
    "properties": {
        "issue_date": {"type": "string", "format": "date"},
        "number": {"type": "string"},
        "kind": {"type": "string"},
        "category": {"type": "string", "enum": ["B2C", "B2BINT"]},
        "currency": {"type": "string"},
        "vat_rate": {"type": "number"},
        "base_minor": {"type": "integer"},
        "vat_minor": {"type": "integer"},
    },
    "required": list(COLUMNS),
}
_TOTAL = {
    "type": "object",
    "properties": {
        "date": {"type": "string", "format": "date"},
        "category": {"type": "string", "enum": ["B2C", "B2BINT"]},
        "currency": {"type": "string"},
        "vat_rate": {"type": "number"},
        "base_minor": {"type": "integer"},
        "vat_minor": {"type": "integer"},
    },
    "required": ["date", "category", "currency", "vat_rate", "base_minor", "vat_minor"],
}
RESPONSE = {
    "type": "object",
    "properties": {
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "lines": {"type": "array", "items": _LINE},
        "totals": {"type": "array", "items": _TOTAL},
    },
    "required": ["from", "to", "lines", "totals"],
}


def _period() -> tuple[date, date]:
    try:
        query = PeriodSchema().load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(
            422, "Some fields are invalid.", fields=flatten_messages(exc.messages)
        ) from None
    return query["from_"], query["to"]


@bp.get("/invoices/e-reporting")
@documented(
    "E-reporting: the period's sales to consumers and businesses abroad (not e-invoiced), "
    "by VAT rate, with totals per day",
    response=RESPONSE,
)
@token_required
def get_e_reporting():
    first, last = _period()
    return jsonify(report(db.session, current_freelancer().id, first, last))


@bp.get("/invoices/e-reporting.csv")
@documented("The e-reporting lines of the period as a CSV file", response={"type": "string"})
@token_required
def get_e_reporting_csv():
    first, last = _period()
    data = report(db.session, current_freelancer().id, first, last)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(data["lines"])
    response = Response(out.getvalue(), mimetype="text/csv")
    name = f"e-reporting-{data['from']}-{data['to']}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
