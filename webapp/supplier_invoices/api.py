"""`/api/v1/supplier-invoices`: receive (multipart field `file`), list, read, download."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlalchemy.exc import IntegrityError

from billing.facturx.models import SupplierInvoice
from billing.lazy import lazy_module
from webapp.api import bp, current_freelancer, token_required
from webapp.api.openapi import documented
from webapp.errors import ApiError
from webapp.extensions import db

# factur-x, pypdf and Saxon load with the first supplier invoice, not with the app.
reception = lazy_module("billing.facturx.reception")

_ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "received_at": {"type": "string", "format": "date-time"},
        "filename": {"type": "string"},
        "format": {"type": "string", "enum": ["factur-x", "cii", "ubl"]},
        "number": {"type": "string"},
        "type_code": {"type": "string"},
        "seller_name": {"type": "string"},
        "seller_siren": {"type": "string"},
        "seller_vat_number": {"type": "string"},
        "issue_date": {"type": "string", "format": "date", "nullable": True},
        "due_date": {"type": "string", "format": "date", "nullable": True},
        "currency": {"type": "string"},
        "total_excl_vat_minor": {"type": "integer", "nullable": True},
        "total_vat_minor": {"type": "integer", "nullable": True},
        "total_incl_vat_minor": {"type": "integer", "nullable": True},
        "due_payable_minor": {"type": "integer", "nullable": True},
        "sha256": {"type": "string"},
        "rule_sets": {"type": "array", "items": {"type": "string"}},
        "warnings": {"type": "array", "items": {"type": "object"}},
        "file_url": {"type": "string"},
    },
}
_LIST = {
    "type": "object",
    "properties": {"supplier_invoices": {"type": "array", "items": _ITEM}},
}


def dump(row: SupplierInvoice) -> dict[str, Any]:
    """A received invoice as the API shows it."""
    return {
        "id": row.id,
        "received_at": row.received_at.isoformat(),
        "filename": row.filename,
        "format": row.format,
        "number": row.number,
        "type_code": row.type_code,
        "seller_name": row.seller_name,
        "seller_siren": row.seller_siren,
        "seller_vat_number": row.seller_vat_number,
        "issue_date": row.issue_date.isoformat() if row.issue_date else None,
        "due_date": row.due_date.isoformat() if row.due_date else None,
        "currency": row.currency,
        "total_excl_vat_minor": row.total_excl_vat_minor,
        "total_vat_minor": row.total_vat_minor,
        "total_incl_vat_minor": row.total_incl_vat_minor,
        "due_payable_minor": row.due_payable_minor,
        "sha256": row.sha256,
        "rule_sets": row.rule_sets,
        "warnings": row.warnings,
        "file_url": f"/api/v1/supplier-invoices/{row.id}/file",
    }


def receive_upload(freelancer_id: int, content: bytes, filename: str) -> tuple[Any, bool]:
    """Check and keep one file (committed); `ApiError` 422 listing the failed rules."""
    try:
        row, created = reception.receive(db.session, freelancer_id, content, filename)
    except reception.ReceptionRefused as exc:
        db.session.rollback()
        rules = [f"{f.rule}: {f.text}" for f in exc.failures[:50]]
        raise ApiError(
            422, str(exc), code="einvoice_invalid", fields={"file": rules or [str(exc)]}
        ) from None
    except IntegrityError:  # the same file received concurrently
        db.session.rollback()
        row, created = reception.receive(db.session, freelancer_id, content, filename)
    db.session.commit()
    return row, created


@bp.post("/supplier-invoices")
@documented(
    "Receive a supplier's invoice: a Factur-X PDF, a CII or a UBL XML (multipart field "
    "`file`); checked against the XSD, EN 16931 and French rules; 201, or 200 if already had",
    response=_ITEM,
    status=201,
)
@token_required
def receive_supplier_invoice():
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(
            422, "Send the invoice as the multipart field `file`.", fields={"file": ["Missing."]}
        )
    content = upload.stream.read(reception.MAX_BYTES + 1)
    row, created = receive_upload(current_freelancer().id, content, upload.filename or "")
    return jsonify(dump(row)), 201 if created else 200


@bp.get("/supplier-invoices")
@documented("List the supplier invoices received, newest first", response=_LIST)
@token_required
def list_supplier_invoices():
    rows = reception.list_received(db.session, current_freelancer().id)
    return jsonify({"supplier_invoices": [dump(r) for r in rows]})


def _own(row_id: int) -> SupplierInvoice:
    row = reception.get_received(db.session, current_freelancer().id, row_id)
    if row is None:
        raise ApiError(404, "No such supplier invoice.")
    return row


@bp.get("/supplier-invoices/<int:row_id>")
@documented("Read one received supplier invoice", response=_ITEM)
@token_required
def get_supplier_invoice(row_id: int):
    return jsonify(dump(_own(row_id)))


@bp.get("/supplier-invoices/<int:row_id>/file")
@documented(
    "The received file, byte for byte (PDF or XML)",
    response={"type": "string", "format": "binary"},
)
@token_required
def get_supplier_invoice_file(row_id: int):
    row = _own(row_id)
    mimetype = "application/pdf" if row.format == "factur-x" else "application/xml"
    response = Response(row.content, mimetype=mimetype)
    response.headers["Content-Disposition"] = "attachment"
    response.headers["Cache-Control"] = "private, no-store"
    return response
