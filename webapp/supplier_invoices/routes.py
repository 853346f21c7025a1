"""The page `/supplier-invoices`: what suppliers sent, and a form to add one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from billing.lazy import lazy_module
from billing.money import minor_exponent
from webapp.extensions import db

# factur-x, pypdf and Saxon load with the first supplier invoice, not with the app.
reception = lazy_module("billing.facturx.reception")

bp = Blueprint("supplier_invoices", __name__, url_prefix="/supplier-invoices")


@bp.context_processor
def _helpers() -> dict[str, Any]:
    from flask_babel import format_currency, format_date

    def money(minor: int | None, currency: str) -> str:
        if minor is None or not currency:
            return "—"
        return format_currency(Decimal(minor).scaleb(-minor_exponent(currency)), currency.upper())

    return {"money": money, "day": lambda d: format_date(d, "medium") if d else "—"}


def _page(errors: list[str], status: int = 200):
    rows = reception.list_received(db.session, current_user.id)
    return render_template("supplier_invoices/list.html", rows=rows, errors=errors), status


@bp.get("/")
@login_required
def index():
    """The received invoices, newest first, with the upload form."""
    return _page([])


@bp.post("/")
@login_required
def upload():
    """Receive one file from the form; the failed rules are listed when it is refused."""
    storage = request.files.get("file")
    if storage is None or not storage.filename:
        return _page([_("Choose a Factur-X PDF or an invoice XML file.")], 422)
    content = storage.stream.read(reception.MAX_BYTES + 1)
    try:
        _row, created = reception.receive(db.session, current_user.id, content, storage.filename)
    except reception.ReceptionRefused as exc:
        db.session.rollback()
        details = [f"{f.rule}: {f.text}" for f in exc.failures[:20]]
        return _page([_("This invoice was refused: %(reason)s", reason=str(exc)), *details], 422)
    except IntegrityError:
        db.session.rollback()
        created = False
    db.session.commit()
    flash(_("Invoice received.") if created else _("This invoice was already received."))
    return redirect(url_for("supplier_invoices.index"))


@bp.get("/<int:row_id>/file")
@login_required
def download(row_id: int):
    """The file as received."""
    row = reception.get_received(db.session, current_user.id, row_id)
    if row is None:
        abort(404)
    mimetype = "application/pdf" if row.format == "factur-x" else "application/xml"
    response = Response(row.content, mimetype=mimetype)
    response.headers["Content-Disposition"] = "attachment"
    return response
