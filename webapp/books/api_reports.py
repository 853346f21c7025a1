"""`/api/v1/books/…`: Stripe payouts reconciled, the URSSAF turnover, the PDFs of the
reports, and the FEC's account numbers (issue 17)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, jsonify
from marshmallow import RAISE, Schema, fields, validate

from billing import events
from billing.books import accounts, payouts
from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.api.shapes import BOOL, DATE, INT, STR, array, nullable, obj
from webapp.books import reports, stripe_sync
from webapp.books.api import _day
from webapp.errors import ApiError
from webapp.extensions import db
from webapp.validation import BoundedDate

_BINARY = {"type": "string", "format": "binary"}
_SUMS = {
    "gross_minor": INT,
    "refunds_minor": INT,
    "fees_minor": INT,
    "net_minor": INT,
    "paid_out_minor": INT,
}
PAYOUTS = obj(
    {
        "from": DATE,
        "to": DATE,
        "payouts": array(
            obj(
                {
                    "id": STR,
                    "arrival_on": DATE,
                    "amount_minor": INT,
                    "currency": STR,
                    "status": STR,
                    "bank_booked_on": nullable(DATE),
                    "difference_minor": INT,
                    **_SUMS,
                    "transactions": array(
                        obj(
                            {
                                "date": DATE,
                                "type": STR,
                                "gross_minor": INT,
                                "fee_minor": INT,
                                "net_minor": INT,
                                "currency": STR,
                                "invoice_number": STR,
                                "client": STR,
                                "stripe_id": STR,
                            }
                        )
                    ),
                }
            )
        ),
        "totals": array(obj({"currency": STR, **_SUMS})),
    }
)
_TURNOVER = obj(
    {
        "period": STR,
        "from": DATE,
        "to": DATE,
        "currency": STR,
        "goods_minor": INT,
        "services_minor": INT,
        "mixed_minor": INT,
        "total_minor": INT,
    }
)
URSSAF = obj(
    {
        "from": DATE,
        "to": DATE,
        "split": BOOL,
        "months": array(_TURNOVER),
        "quarters": array(_TURNOVER),
    }
)


class PeriodSchema(Schema):
    """`{from, to}`: local dates, inclusive."""

    class Meta:
        unknown = RAISE

    start = BoundedDate(required=True, data_key="from")
    end = BoundedDate(required=True, data_key="to")


class AccountSchema(Schema):
    """One FEC account: its number (CompteNum) and label (CompteLib)."""

    class Meta:
        unknown = RAISE

    number = fields.String(validate=validate.Regexp(accounts.NUMBER.pattern))
    label = fields.String(validate=validate.Length(min=1, max=100))


class AccountsSchema(Schema):
    """`PUT /books/accounts`: the accounts to change; the others keep their numbers."""

    class Meta:
        unknown = RAISE

    clients = fields.Nested(AccountSchema)
    services = fields.Nested(AccountSchema)
    goods = fields.Nested(AccountSchema)
    vat_collected = fields.Nested(AccountSchema)
    bank = fields.Nested(AccountSchema)
    stripe = fields.Nested(AccountSchema)
    fees = fields.Nested(AccountSchema)


def _account_shape() -> dict[str, Any]:
    one = obj({"number": STR, "label": STR})
    return obj({key: one for key in accounts.DEFAULTS})


ACCOUNTS = _account_shape()
SYNCED = obj({"payouts": INT, "transactions": INT, "recognised": INT})


def _period() -> tuple[date, date]:
    start, end = _day("from"), _day("to")
    problem = reports.check_period(start, end)
    if problem:
        raise ApiError(422, "Some fields are invalid.", fields={"to": [problem]})
    return start, end


def _file(body: str | bytes, mimetype: str, name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.post("/books/payouts/sync")
@documented(
    "Read from Stripe the payouts arriving from `from` to `to` and what each paid out; "
    "payouts on imported bank lines are recognised",
    body=PeriodSchema,
    response=SYNCED,
)
@token_required
def sync_payouts():
    freelancer = current_freelancer()
    data = PeriodSchema().load(json_body())
    problem = reports.check_period(data["start"], data["end"])
    if problem:
        raise ApiError(422, "Some fields are invalid.", fields={"to": [problem]})
    from webapp.stripe_connect import gateway

    client = gateway(freelancer.id)
    account = getattr(client, "account_ref", None)
    fid = freelancer.id
    db.session.commit()  # no transaction open while Stripe answers
    found = stripe_sync.read(client, data["start"], data["end"])
    result = stripe_sync.store(db.session, fid, account, found, actor=events.freelancer_actor(fid))
    db.session.commit()
    return jsonify(
        {
            "payouts": result.payouts,
            "transactions": result.transactions,
            "recognised": result.recognised,
        }
    )


@bp.get("/books/payouts")
@documented(
    "Stripe payouts arriving from `from` to `to`: gross, fees, refunds, net per charge",
    response=PAYOUTS,
)
@token_required
def books_payouts():
    freelancer = current_freelancer()
    start, end = _period()
    found, totals = payouts.reconcile(db.session, freelancer.id, start, end, freelancer.timezone)
    return jsonify(reports.payouts_json(start, end, found, totals))


@bp.get("/books/payouts.csv")
@documented("The payouts reconciled as CSV (`;`, decimal comma)", response=_BINARY)
@token_required
def books_payouts_csv():
    freelancer = current_freelancer()
    start, end = _period()
    found, _totals = payouts.reconcile(db.session, freelancer.id, start, end, freelancer.timezone)
    return _file(reports.payouts_csv(found), "text/csv", f"virements-stripe-{start}-{end}.csv")


@bp.get("/books/payouts.pdf")
@documented("The payouts reconciled as PDF", response=_BINARY)
@token_required
def books_payouts_pdf():
    start, end = _period()
    body = reports.payouts_pdf(db.session, current_freelancer(), start, end)
    return _file(body, "application/pdf", f"virements-stripe-{start}-{end}.pdf")


@bp.get("/books/urssaf")
@documented(
    "Turnover cashed per month and per quarter (URSSAF), goods apart from services",
    response=URSSAF,
)
@token_required
def books_urssaf():
    start, end = _period()
    return jsonify(reports.urssaf_summary(db.session, current_freelancer(), start, end).as_json())


@bp.get("/books/urssaf.csv")
@documented("The URSSAF turnover as CSV (`;`, decimal comma)", response=_BINARY)
@token_required
def books_urssaf_csv():
    start, end = _period()
    summary = reports.urssaf_summary(db.session, current_freelancer(), start, end)
    return _file(summary.as_csv(), "text/csv", f"chiffre-affaires-urssaf-{start}-{end}.csv")


@bp.get("/books/urssaf.pdf")
@documented("The URSSAF turnover as PDF", response=_BINARY)
@token_required
def books_urssaf_pdf():
    start, end = _period()
    body = reports.urssaf_pdf(db.session, current_freelancer(), start, end)
    return _file(body, "application/pdf", f"chiffre-affaires-urssaf-{start}-{end}.pdf")


@bp.get("/books/receipts.pdf")
@documented("The livre des recettes as PDF, with its totals", response=_BINARY)
@token_required
def books_receipts_pdf():
    start, end = _period()
    body = reports.receipts_pdf(db.session, current_freelancer(), start, end)
    return _file(body, "application/pdf", f"livre-des-recettes-{start}-{end}.pdf")


def _accounts_body(found: dict[str, accounts.Account]) -> dict[str, Any]:
    return {key: {"number": a.number, "label": a.label} for key, a in found.items()}


@bp.get("/books/accounts")
@documented("The FEC's account numbers (the PCG defaults unless changed)", response=ACCOUNTS)
@token_required
def get_books_accounts():
    return jsonify(_accounts_body(accounts.accounts_for(db.session, current_freelancer().id)))


@bp.put("/books/accounts")
@documented("Change some of the FEC's account numbers", body=AccountsSchema, response=ACCOUNTS)
@token_required
def put_books_accounts():
    data = AccountsSchema().load(json_body())
    found = accounts.set_accounts(db.session, current_freelancer().id, data)
    db.session.commit()
    return jsonify(_accounts_body(found))
