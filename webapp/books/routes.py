"""The books page: drop a bank statement, review the lines left, assign or undo in
one click, export the livre des recettes and the FEC, issue an invoice by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import select

from billing import events
from billing.books import exports
from billing.books.models import BankLine, BankMatch, BankStatement
from billing.errors import AlreadyDone, NotAllowed
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice
from billing.money import minor_exponent, parse_major
from webapp.books import by_hand, service
from webapp.errors import ApiError
from webapp.extensions import db

bp = Blueprint("books", __name__)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    from flask_babel import format_currency, format_date

    def money(minor: int, currency: str) -> str:
        return format_currency(Decimal(minor).scaleb(-minor_exponent(currency)), currency.upper())

    return {"money": money, "day": lambda d: format_date(d, "medium")}


def _page(status: int = 200, errors: dict[str, list[str]] | None = None, form: Any = None):
    from webapp.books.page_reports import report_context, report_period  # they use this `bp`

    fid = current_user.id
    statements_ = db.session.scalars(
        select(BankStatement)
        .where(BankStatement.freelancer_id == fid)
        .order_by(BankStatement.id.desc())
        .limit(20)
    ).all()
    matches = db.session.scalars(
        select(BankMatch)
        .where(BankMatch.freelancer_id == fid, BankMatch.undone_at.is_(None))
        .order_by(BankMatch.id.desc())
        .limit(50)
    ).all()
    today = date.today()
    start, end = report_period()
    return render_template(
        "books/index.html",
        **report_context(db.session, current_user, start, end),
        review=service.review(db.session, fid),
        open_invoices=service.open_invoices(db.session, fid),
        balance_due=invoicing.balance_due,
        statements=statements_,
        matches=[(m, db.session.get(BankLine, m.line_id), m.invoice_id) for m in matches],
        numbers={i.id: i.number for i in invoicing.list_invoices(db.session, fid)},
        errors=errors or {},
        form=form or {},
        year=today.year,
        start=start.isoformat(),
        end=end.isoformat(),
    ), status


@bp.get("/books")
@login_required
def index():
    return _page()


@bp.post("/books/statements")
@login_required
def upload():
    storage = request.files.get("file")
    if storage is None or not storage.filename:
        return _page(422, {"file": [_("Choose your bank's statement file.")]})
    data = storage.stream.read(5 * 1024 * 1024 + 1)
    mapping = {
        key: request.form.get(f"col_{key}", "").strip()
        for key in ("date", "label", "amount", "credit", "debit", "reference")
        if request.form.get(f"col_{key}", "").strip()
    }
    from webapp.books.api import import_upload

    try:
        result = import_upload(current_user.id, data, storage.filename, mapping)
    except ApiError as exc:
        return _page(422, {"file": [exc.message]})
    if not result.new:
        flash(_("This statement was imported already: nothing changed."))
    else:
        flash(
            _(
                "%(lines)s lines imported: %(matched)s settled, %(unmatched)s to review.",
                lines=result.lines,
                matched=result.matched,
                unmatched=result.unmatched,
            )
        )
    return redirect(url_for("books.index"))


def _own(model: type, row_id: int) -> Any:
    row = db.session.get(model, row_id)
    if row is None or row.freelancer_id != current_user.id:
        abort(404)
    return row


@bp.post("/books/lines/<int:line_id>/assign")
@login_required
def assign(line_id: int):
    line = _own(BankLine, line_id)
    raw = request.form.get("invoice_id", "")
    invoice = (
        invoicing.get_invoice(db.session, current_user.id, int(raw)) if raw.isdigit() else None
    )
    if invoice is None or line.amount_minor <= 0:
        return _page(422, {"assign": [_("Choose one of your invoices still owed.")]})
    raw_amount = request.form.get("amount", "").strip()
    amount = parse_major(raw_amount, line.currency) if raw_amount else None
    if raw_amount and (amount is None or amount <= 0):
        return _page(422, {"assign": [_("Give the amount as on the statement, e.g. 150,50.")]})
    try:
        service.assign(
            db.session,
            line,
            invoice,
            actor=events.freelancer_actor(current_user.id),
            amount_minor=amount,
        )
    except (NotAllowed, AlreadyDone):
        db.session.rollback()
        return _page(422, {"assign": [_("This invoice cannot take this payment.")]})
    db.session.commit()
    flash(_("Payment recorded on %(number)s.", number=invoice.number))
    return redirect(url_for("books.index"))


@bp.post("/books/matches/<int:match_id>/undo")
@login_required
def undo(match_id: int):
    match = _own(BankMatch, match_id)
    try:
        reopened = service.undo(db.session, match, actor=events.freelancer_actor(current_user.id))
    except (NotAllowed, AlreadyDone):
        db.session.rollback()
        flash(_("This match is already undone."))
        return redirect(url_for("books.index"))
    db.session.commit()
    flash(_("Match undone: the line waits for review."))
    if reopened is not None:
        number = db.session.get(Invoice, match.invoice_id).number
        flash(_("%(number)s is owed again: its reminders resume.", number=number))
    return redirect(url_for("books.index"))


@bp.get("/books/receipts.csv")
@login_required
def receipts_csv():
    try:
        start = date.fromisoformat(request.args.get("from", ""))
        end = date.fromisoformat(request.args.get("to", ""))
    except ValueError:
        return _page(422, {"export": [_("Give both dates.")]})
    rows = exports.receipts(db.session, current_user.id, start, end, current_user.timezone)
    response = Response(exports.receipts_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="livre-des-recettes.csv"'
    return response


@bp.get("/books/fec.txt")
@login_required
def fec():
    raw = request.args.get("year", "")
    if not (raw.isdigit() and 1900 <= int(raw) <= 2199):
        return _page(422, {"export": [_("Give a year, e.g. 2026.")]})
    body = exports.fec_text(
        exports.fec_rows(db.session, current_user.id, int(raw), current_user.timezone)
    )
    response = Response(body, mimetype="text/tab-separated-values")
    name = exports.fec_filename((current_user.siret or "")[:9], int(raw))
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.post("/books/invoices")
@login_required
def new_invoice():
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    currency = current_user.currency or "eur"
    amount = parse_major(form.get("unit_amount", ""), currency)
    business = form.get("is_business") == "on"
    address = None
    if form.get("line1") or business:
        address = {
            "line1": form.get("line1", ""),
            "postal_code": form.get("postal_code", ""),
            "city": form.get("city", ""),
            "country": form.get("country", "FR") or "FR",
        }
    payload = {
        "client": {
            "name": form.get("name", ""),
            "email": form.get("email", ""),
            "is_business": business,
            "company": form.get("company", ""),
            "siren": form.get("siren", ""),
            "postal_address": address,
        },
        "lines": [
            {
                "description": form.get("description", ""),
                "quantity": form.get("quantity", "1") or "1",
                "unit_amount_minor": amount if amount is not None else -1,
            }
        ],
        "due_date": form.get("due_date", ""),
        "currency": currency,
    }
    try:
        data = by_hand.ManualInvoiceSchema().load(payload)
        invoice = by_hand.issue_by_hand(db.session, current_user, data)
    except ValidationError as exc:
        return _page(422, {"invoice": [str(exc.messages)]}, form)
    except (ValueError, NotAllowed, AlreadyDone) as exc:
        db.session.rollback()
        return _page(422, {"invoice": [str(exc)]}, form)
    db.session.commit()
    flash(_("Invoice %(number)s issued.", number=invoice.number))
    return redirect(url_for("invoices.detail", invoice_id=invoice.id))
