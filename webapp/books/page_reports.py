"""The books page's reports: Stripe payouts reconciled (read from Stripe on demand),
the URSSAF turnover, the PDF and CSV downloads of a period, the FEC's accounts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import Session

from billing import events
from billing.books import accounts, payouts
from billing.errors import GatewayError
from webapp.accounts.models import Freelancer
from webapp.books import reports, stripe_sync
from webapp.books.routes import bp
from webapp.extensions import db


def report_period() -> tuple[date, date]:
    """The page's period (`from`, `to` in the query), by default the year so far."""
    today = date.today()
    try:
        start = date.fromisoformat(request.args.get("from", ""))
        end = date.fromisoformat(request.args.get("to", ""))
    except ValueError:
        return date(today.year, 1, 1), today
    if reports.check_period(start, end) or not 1900 <= start.year <= end.year <= 2199:
        return date(today.year, 1, 1), today
    return start, end


def report_context(session: Session, freelancer: Freelancer, start: date, end: date) -> dict:
    """What the page shows of the period: payouts, the URSSAF summary, the accounts."""
    found, totals = payouts.reconcile(session, freelancer.id, start, end, freelancer.timezone)
    return {
        "payouts": found,
        "payout_totals": totals,
        "urssaf": reports.urssaf_summary(session, freelancer, start, end),
        "period_label": reports.period_label,
        "accounts": accounts.accounts_for(session, freelancer.id),
        "account_names": {
            "clients": _("Clients"),
            "services": _("Sales of services"),
            "goods": _("Sales of goods"),
            "vat_collected": _("VAT collected"),
            "bank": _("Bank"),
            "stripe": _("Stripe (transit account)"),
            "fees": _("Bank and Stripe fees"),
        },
    }


def _download(body: str | bytes, mimetype: str, name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


_EXPORTS = {
    "receipts.pdf": ("application/pdf", "livre-des-recettes"),
    "urssaf.pdf": ("application/pdf", "chiffre-affaires-urssaf"),
    "urssaf.csv": ("text/csv", "chiffre-affaires-urssaf"),
    "payouts.pdf": ("application/pdf", "virements-stripe"),
    "payouts.csv": ("text/csv", "virements-stripe"),
}


@bp.get(
    "/books/reports/<any('receipts.pdf','urssaf.pdf','urssaf.csv','payouts.pdf','payouts.csv'):name>"
)
@login_required
def report_file(name: str):
    start, end = report_period()
    me = current_user
    if name == "receipts.pdf":
        body: str | bytes = reports.receipts_pdf(db.session, me, start, end)
    elif name == "urssaf.pdf":
        body = reports.urssaf_pdf(db.session, me, start, end)
    elif name == "urssaf.csv":
        body = reports.urssaf_summary(db.session, me, start, end).as_csv()
    elif name == "payouts.pdf":
        body = reports.payouts_pdf(db.session, me, start, end)
    else:
        found, _totals = payouts.reconcile(db.session, me.id, start, end, me.timezone)
        body = reports.payouts_csv(found)
    mimetype, stem = _EXPORTS[name]
    return _download(body, mimetype, f"{stem}-{start}-{end}.{name.rsplit('.', 1)[1]}")


@bp.post("/books/payouts/sync")
@login_required
def sync_payouts():
    from webapp.stripe_connect import gateway

    start, end = report_period()
    fid = current_user.id
    client = gateway(fid)
    account = getattr(client, "account_ref", None)
    db.session.commit()  # no transaction open while Stripe answers
    try:
        found = stripe_sync.read(client, start - timedelta(days=5), end + timedelta(days=5))
    except GatewayError:
        flash(_("Stripe could not be read just now: try again in a minute."))
        return redirect(url_for("books.index", **{"from": start, "to": end}))
    result = stripe_sync.store(db.session, fid, account, found, actor=events.freelancer_actor(fid))
    db.session.commit()
    flash(
        _(
            "%(payouts)s Stripe payouts read, %(recognised)s found on your bank statements.",
            payouts=result.payouts,
            recognised=result.recognised,
        )
    )
    return redirect(url_for("books.index", **{"from": start, "to": end}))


@bp.post("/books/accounts")
@login_required
def save_accounts():
    changes: dict[str, Any] = {}
    for key in accounts.DEFAULTS:
        number = request.form.get(f"account_{key}", "").strip().upper()
        if number:
            changes[key] = {"number": number}
    try:
        accounts.set_accounts(db.session, current_user.id, changes)
    except ValueError:
        db.session.rollback()
        flash(_("An account number is 3 to 20 capital letters or digits."))
        return redirect(url_for("books.index"))
    db.session.commit()
    flash(_("Account numbers saved: the next FEC uses them."))
    return redirect(url_for("books.index"))
