"""Invoice pages: the list, one invoice with its PDF, transfer and credit-note forms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from billing import events
from billing.db import utcnow
from billing.errors import AlreadyDone, NotAllowed
from billing.invoicing import documents, service
from billing.invoicing.models import Invoice
from billing.money import minor_exponent, parse_major
from webapp.books import settle
from webapp.extensions import db
from webapp.invoices.api import pdf_response
from webapp.invoices.issue import local_today

bp = Blueprint("invoices", __name__)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    from flask_babel import format_currency, format_date

    def money(minor: int, currency: str) -> str:
        exp = minor_exponent(currency)
        return format_currency(Decimal(minor).scaleb(-exp), currency.upper())

    return {"money": money, "day": lambda d: format_date(d, "medium")}


def _own(invoice_id: int) -> Invoice:
    invoice = service.get_invoice(db.session, current_user.id, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


def parse_amount(raw: str, currency: str) -> int | None:
    """`"1 234,50"` or `"1234.50"` (major units) to minor units; None when not a valid amount."""
    minor = parse_major(raw, currency)
    return minor if minor else None


def _detail(invoice: Invoice, errors: dict[str, list[str]], form: dict[str, Any], status: int):
    from billing.events import timeline

    return render_template(
        "invoices/detail.html",
        invoice=invoice,
        paid=service.paid_minor(invoice),
        credited=service.credited_minor(invoice),
        balance=service.balance_due(invoice),
        vat_rows=service.vat_summary(invoice),
        history=timeline(db.session, "invoice", invoice.id),
        refund_due=service.refund_due(invoice),
        pdf_sha256=documents.pdf_sha256(db.session, invoice),
        errors=errors,
        form=form,
    ), status


@bp.get("/invoices")
@login_required
def index():
    rows = service.list_invoices(db.session, current_user.id)
    return render_template("invoices/list.html", invoices=rows, balance_due=service.balance_due)


@bp.get("/invoices/<int:invoice_id>")
@login_required
def detail(invoice_id: int):
    return _detail(_own(invoice_id), {}, {}, 200)


@bp.get("/invoices/<int:invoice_id>.pdf")
@login_required
def download(invoice_id: int):
    return pdf_response(_own(invoice_id), request.args.get("lang"))


@bp.post("/invoices/<int:invoice_id>/payments")
@login_required
def record_transfer(invoice_id: int):
    invoice = _own(invoice_id)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    errors: dict[str, list[str]] = {}
    amount = parse_amount(form.get("amount", ""), invoice.currency)
    balance = service.balance_due(invoice)
    if amount is None:
        errors["amount"] = [_("Enter a positive amount, e.g. 120.50.")]
    elif amount > balance:
        errors["amount"] = [_("At most the balance due.")]
    if not errors:
        try:
            settle.record_transfer(
                db.session,
                invoice,
                amount_minor=amount,
                method="transfer",
                paid_at=utcnow(),
                reference=form.get("reference", "")[:200],
                actor=events.freelancer_actor(current_user.id),
            )
        except (NotAllowed, AlreadyDone):
            db.session.rollback()
            errors["amount"] = [_("This invoice cannot take a payment now.")]
    if errors:
        return _detail(invoice, errors, form, 422)
    db.session.commit()
    flash(_("Payment recorded."))
    return redirect(url_for("invoices.detail", invoice_id=invoice.id))


@bp.post("/invoices/<int:invoice_id>/credit-notes")
@login_required
def credit(invoice_id: int):
    invoice = _own(invoice_id)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    errors: dict[str, list[str]] = {}
    raw = form.get("credit_amount", "").strip()
    amount = parse_amount(raw, invoice.currency) if raw else None
    reason = form.get("reason", "").strip()
    if raw and amount is None:
        errors["credit_amount"] = [_("Enter a positive amount, or leave empty to credit in full.")]
    if not reason:
        errors["reason"] = [_("Say why: it is printed on the credit note.")]
    if not errors:
        try:
            note = service.issue_credit_note(
                db.session,
                invoice.id,
                amount_minor=amount,
                reason=reason[:500],
                issue_date=max(local_today(current_user), invoice.issue_date),
                actor=events.freelancer_actor(current_user.id),
            )
        except (NotAllowed, AlreadyDone) as exc:
            db.session.rollback()
            errors["credit_amount"] = [str(exc)]
    if errors:
        return _detail(invoice, errors, form, 422)
    db.session.commit()
    flash(_("Credit note %(number)s issued.", number=note.number))
    return redirect(url_for("invoices.detail", invoice_id=note.id))
