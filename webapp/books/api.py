"""`/api/v1`: invoices by hand, bank statements, the review list, matches and their
undo, the livre des recettes and the FEC."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Response, jsonify, request
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from billing import events
from billing.books import exports, statements
from billing.books.models import BankLine, BankMatch, BankStatement
from billing.errors import AlreadyDone, NotAllowed
from billing.invoicing import service as invoicing
from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.books import by_hand, service
from webapp.errors import ApiError
from webapp.extensions import db
from webapp.invoices import schemas as invoice_schemas

MAX_BYTES = 5 * 1024 * 1024
_INT, _STR = {"type": "integer"}, {"type": "string"}
LINE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": _INT,
        "statement_id": _INT,
        "bank_reference": _STR,
        "booked_on": {"type": "string", "format": "date"},
        "amount_minor": _INT,
        "currency": _STR,
        "counterparty": _STR,
        "remittance": _STR,
        "left_minor": _INT,
        "matches": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": _INT,
                    "invoice_id": _INT,
                    "amount_minor": _INT,
                    "how": _STR,
                    "undone": {"type": "boolean"},
                },
            },
        },
    },
}
STATEMENT = {
    "type": "object",
    "properties": {
        "id": _INT,
        "format": _STR,
        "account": _STR,
        "lines": _INT,
        "matched": _INT,
        "unmatched": _INT,
    },
}
LINES = {"type": "object", "properties": {"lines": {"type": "array", "items": LINE}}}


class AssignSchema(Schema):
    """`POST /bank-lines/{id}/matches`: put (part of) the line on an invoice."""

    class Meta:
        unknown = RAISE

    invoice_id = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    amount_minor = fields.Integer(
        strict=True, load_default=None, validate=validate.Range(min=1, max=10**11)
    )


def dump_line(line: BankLine) -> dict[str, Any]:
    """A bank line as the API shows it."""
    return {
        "id": line.id,
        "statement_id": line.statement_id,
        "bank_reference": line.bank_reference,
        "booked_on": line.booked_on.isoformat(),
        "amount_minor": line.amount_minor,
        "currency": line.currency,
        "counterparty": line.counterparty,
        "remittance": line.remittance,
        "left_minor": service.left_minor(db.session, line),
        "matches": [
            {
                "id": m.id,
                "invoice_id": m.invoice_id,
                "amount_minor": m.amount_minor,
                "how": m.how,
                "undone": m.undone_at is not None,
            }
            for m in service.matches_of(db.session, line)
        ],
    }


def _own(model: type, row_id: int, what: str) -> Any:
    # Another freelancer's row answers exactly like a missing one.
    row = db.session.get(model, row_id)
    if row is None or row.freelancer_id != current_freelancer().id:
        raise ApiError(404, f"No such {what}.")
    return row


def _actor() -> str:
    return events.freelancer_actor(current_freelancer().id)


@bp.post("/invoices")
@documented(
    "Issue an invoice by hand, to be paid by bank transfer (numbered, Factur-X PDF stored)",
    body=by_hand.ManualInvoiceSchema,
    response={"type": "object", "properties": {"id": _INT}},
    status=201,
)
@token_required
def create_invoice():
    freelancer = current_freelancer()
    data = by_hand.ManualInvoiceSchema().load(json_body())
    try:
        invoice = by_hand.issue_by_hand(db.session, freelancer, data)
    except ValueError as exc:
        db.session.rollback()
        raise ApiError(422, "Some fields are invalid.", fields={"due_date": [str(exc)]}) from None
    except (NotAllowed, AlreadyDone) as exc:
        db.session.rollback()
        raise ApiError(409, str(exc)) from None
    db.session.commit()
    return jsonify(invoice_schemas.detail(db.session, invoice)), 201


def import_upload(freelancer_id: int, data: bytes, filename: str, mapping: dict) -> Any:
    """Read and import one file; `ApiError` 422 for anything unreadable."""
    try:
        parsed = statements.read(data, filename, mapping)
    except statements.Unreadable as exc:
        raise ApiError(422, str(exc), fields={"file": [str(exc)]}) from None
    if not parsed.lines:
        raise ApiError(422, "The file has no booked lines.", fields={"file": ["No lines."]})
    actor = events.freelancer_actor(freelancer_id)
    try:
        result = service.import_statement(db.session, freelancer_id, data, parsed, filename, actor)
        db.session.commit()
    except IntegrityError:  # the same file (or line) imported concurrently: harmless
        db.session.rollback()
        result = service.import_statement(db.session, freelancer_id, data, parsed, filename, actor)
        db.session.commit()
    return result


@bp.post("/bank-statements")
@documented(
    "Import a bank statement (multipart field `file`: CAMT.053/054, OFX or CSV; optional "
    "field `mapping`, a JSON object naming the CSV columns); matched transfers settle "
    "their invoices. 201, or 200 when the file was imported already",
    response=STATEMENT,
    status=201,
)
@token_required
def import_bank_statement():
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(
            422, "Send the statement as the multipart field `file`.", fields={"file": ["Missing."]}
        )
    data = upload.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ApiError(413, "The file is larger than 5 MB.")
    try:
        mapping = json.loads(request.form.get("mapping") or "{}")
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ApiError(422, "Some fields are invalid.", fields={"mapping": ["A JSON object."]})
    result = import_upload(current_freelancer().id, data, upload.filename or "", mapping)
    body = {
        "id": result.statement.id,
        "format": result.statement.format,
        "account": result.statement.account,
        "lines": result.lines,
        "matched": result.matched,
        "unmatched": result.unmatched,
    }
    return jsonify(body), 201 if result.new else 200


@bp.get("/bank-statements/<int:statement_id>")
@documented("Read one imported statement with its lines", response=LINES)
@token_required
def get_bank_statement(statement_id: int):
    statement = _own(BankStatement, statement_id, "statement")
    rows = db.session.scalars(
        select(BankLine).where(BankLine.statement_id == statement.id).order_by(BankLine.id)
    )
    return jsonify({"lines": [dump_line(line) for line in rows]})


@bp.get("/bank-lines")
@documented("The review list: credit lines with money not yet on an invoice", response=LINES)
@token_required
def list_bank_lines():
    rows = service.review(db.session, current_freelancer().id)
    return jsonify({"lines": [dump_line(line) for line, _ in rows]})


@bp.post("/bank-lines/<int:line_id>/matches")
@documented(
    "Assign a bank line to an invoice (one click): records the transfer on it",
    body=AssignSchema,
    response=LINE,
    status=201,
)
@token_required
def assign_bank_line(line_id: int):
    line = _own(BankLine, line_id, "bank line")
    data = AssignSchema().load(json_body())
    invoice = invoicing.get_invoice(db.session, current_freelancer().id, data["invoice_id"])
    if invoice is None:
        raise ApiError(404, "No such invoice.")
    if line.amount_minor <= 0:
        raise ApiError(409, "A debit pays no invoice.")
    try:
        service.assign(db.session, line, invoice, actor=_actor(), amount_minor=data["amount_minor"])
    except (NotAllowed, AlreadyDone) as exc:
        db.session.rollback()
        raise ApiError(409, str(exc)) from None
    db.session.commit()
    return jsonify(dump_line(line)), 201


@bp.post("/bank-matches/<int:match_id>/undo")
@documented(
    "Undo a match: the transfer it recorded is reversed, the line waits for review; the "
    "invoice's dunning case reopens when the invoice is owed again (`dunning_case_reopened`)",
    response={
        **LINE,
        "properties": {
            **LINE["properties"],
            "dunning_case_reopened": {"type": "integer", "nullable": True},
        },
    },
)
@token_required
def undo_bank_match(match_id: int):
    match = _own(BankMatch, match_id, "match")
    try:
        reopened = service.undo(db.session, match, actor=_actor())
    except (NotAllowed, AlreadyDone) as exc:
        db.session.rollback()
        raise ApiError(409, str(exc)) from None
    db.session.commit()
    body = dump_line(db.session.get(BankLine, match.line_id))
    body["dunning_case_reopened"] = reopened.id if reopened is not None else None
    return jsonify(body)


def _day(name: str) -> date:
    raw = request.args.get(name, "")
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "Some fields are invalid.", fields={name: ["YYYY-MM-DD."]}) from None
    if not 1900 <= day.year <= 2199:
        raise ApiError(422, "Some fields are invalid.", fields={name: ["Out of range."]})
    return day


@bp.get("/books/receipts")
@documented(
    "The livre des recettes (CSV, `;`, decimal comma): receipts from `from` to `to`",
    response={"type": "string", "format": "binary"},
)
@token_required
def books_receipts():
    start, end = _day("from"), _day("to")
    if end < start:
        raise ApiError(422, "Some fields are invalid.", fields={"to": ["Not before `from`."]})
    freelancer = current_freelancer()
    rows = exports.receipts(db.session, freelancer.id, start, end, freelancer.timezone)
    response = Response(exports.receipts_csv(rows), mimetype="text/csv")
    name = f"livre-des-recettes-{start.isoformat()}-{end.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/books/fec")
@documented(
    "The FEC (LPF A47 A-1) of a calendar year: 18 columns, tab separated",
    response={"type": "string", "format": "binary"},
)
@token_required
def books_fec():
    raw = request.args.get("year", "")
    if not (raw.isdigit() and 1900 <= int(raw) <= 2199):
        raise ApiError(422, "Some fields are invalid.", fields={"year": ["A year, e.g. 2026."]})
    freelancer = current_freelancer()
    year = int(raw)
    body = exports.fec_text(exports.fec_rows(db.session, freelancer.id, year, freelancer.timezone))
    response = Response(body, mimetype="text/tab-separated-values")
    filename = exports.fec_filename((freelancer.siret or "")[:9], year)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
