"""The freelancer's quote pages: list, editor, detail with versions, evidence and timeline."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from billing.invoicing.mentions import EU_COUNTRIES
from billing.money import minor_exponent, parse_major
from webapp.extensions import db
from webapp.quotes import drafting, lookups, milestones, schemas, sending
from webapp.quotes import transitions as t
from webapp.quotes.content import ContentError
from webapp.quotes.errors import QuoteError
from webapp.quotes.views import quote_json

bp = Blueprint("quotes", __name__)

ROWS = 6  # blank rows offered by the editor for lines and milestones


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as `field` / `lines.0.unit_amount_minor` keys."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_errors(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


ADDRESS_KEYS = ("line1", "postal_code", "city", "country")


def _to_minor(text: str, currency: str) -> int | str:
    """`1 200,50` → 120050 for EUR; anything unreadable is passed on for the schema to refuse."""
    minor = parse_major(text, currency)
    return text if minor is None else minor


def form_to_payload(form: dict[str, str], currency: str) -> dict[str, Any]:
    """The editor's flat form as the API's JSON body (blank rows skipped)."""
    payload: dict[str, Any] = {
        "title": form.get("title", ""),
        "client": {
            "name": form.get("client_name", ""),
            "email": form.get("client_email", ""),
            "company": form.get("client_company", ""),
            "siret": form.get("client_siret", ""),
            "address": form.get("client_address", ""),
            "is_business": form.get("client_is_business") == "on",
            "siren": form.get("client_siren", ""),
            "vat_number": form.get("client_vat_number", ""),
        },
        "terms": form.get("terms", ""),
        "lines": [],
        "milestones": [],
    }
    address = {k: form.get(f"client_{k}", "").strip() for k in ADDRESS_KEYS}
    if address["line1"] or address["city"] or address["postal_code"]:
        address["country"] = (address["country"] or "FR").upper()
        payload["client"]["postal_address"] = address
    if form.get("currency"):
        payload["currency"] = form["currency"]
    if form.get("valid_until"):
        payload["valid_until"] = form["valid_until"]
    if form.get("auto_approve_days", "").strip().isdigit():
        payload["auto_approve_days"] = int(form["auto_approve_days"])
    for i in range(ROWS):
        description = form.get(f"line-{i}-description", "").strip()
        unit = form.get(f"line-{i}-unit", "").strip()
        if not description and not unit:
            continue
        quantity = form.get(f"line-{i}-quantity", "1").strip() or "1"
        payload["lines"].append(
            {
                "description": description,
                "quantity": int(quantity) if quantity.isdigit() else quantity,
                "unit_amount_minor": _to_minor(unit, currency),
            }
        )
    for i in range(ROWS):
        title = form.get(f"ms-{i}-title", "").strip()
        amount = form.get(f"ms-{i}-amount", "").strip()
        percent = form.get(f"ms-{i}-percent", "").strip()
        if not title and not amount and not percent:
            continue
        row: dict[str, Any] = {"title": title, "trigger": form.get(f"ms-{i}-trigger", "")}
        if amount:
            row["amount_minor"] = _to_minor(amount, currency)
        if percent:
            row["percent"] = percent.replace(",", ".")
        if form.get(f"ms-{i}-due_date"):
            row["due_date"] = form[f"ms-{i}-due_date"]
        payload["milestones"].append(row)
    return payload


def quote_to_form(content: dict[str, Any]) -> dict[str, str]:
    """A version's content as the editor's form values."""
    exp = minor_exponent(content["currency"])
    money = lambda minor: f"{Decimal(minor) / (10**exp):.{exp}f}"  # noqa: E731
    form = {
        "title": content["title"],
        "currency": content["currency"],
        "terms": content["terms"],
        "valid_until": content["valid_until"],
        "auto_approve_days": str(content["auto_approve_days"]),
        **{
            f"client_{k}": v or ""
            for k, v in content["client"].items()
            if k not in ("is_business", "postal_address")
        },
        **{
            f"client_{k}": (content["client"].get("postal_address") or {}).get(k, "")
            for k in ADDRESS_KEYS
        },
    }
    if content["client"]["is_business"]:
        form["client_is_business"] = "on"
    for i, line in enumerate(content["lines"]):
        form[f"line-{i}-description"] = line["description"]
        form[f"line-{i}-quantity"] = str(line["quantity"])
        form[f"line-{i}-unit"] = money(line["unit_amount_minor"])
    for i, m in enumerate(content["milestones"]):
        form[f"ms-{i}-title"] = m["title"]
        form[f"ms-{i}-trigger"] = m["trigger"]
        form[f"ms-{i}-due_date"] = m["due_date"] or ""
        if m["percent_bp"] is not None:
            form[f"ms-{i}-percent"] = str(Decimal(m["percent_bp"]) / 100)
        else:
            form[f"ms-{i}-amount"] = money(m["amount_minor"])
    return form


def _own(quote_id: int):  # noqa: ANN202
    quote = lookups.quote_for(db.session, current_user.id, quote_id)
    if quote is None:
        abort(404)
    return quote


@bp.get("/quotes")
@login_required
def index():
    return render_template(
        "quotes/index.html", quotes=lookups.quotes_of(db.session, current_user.id)
    )


def _editor(quote: Any = None):  # noqa: ANN202
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {k: v for k, v in request.form.items() if k != "csrf_token"}
        currency = (form.get("currency") or current_user.currency).lower()
        try:
            payload = form_to_payload(form, currency)
            if quote is None:
                data = schemas.QuoteSchema().load(payload)
                quote, _token = drafting.create_quote(db.session, current_user, data)
                message = _("Quote saved as a draft.")
            else:
                payload.pop("currency", None)
                data = schemas.QuoteSchema().load(payload)
                drafting.revise_quote(db.session, current_user, quote, data)
                message = _(
                    "Quote changed: the client now sees version %(n)s.", n=quote.current_version
                )
        except ValidationError as exc:
            db.session.rollback()
            errors = flatten_errors(exc.messages)
        except ContentError as exc:
            db.session.rollback()
            errors = flatten_errors(exc.words)
        except QuoteError as exc:
            db.session.rollback()
            errors = {"_schema": [exc.message]}
        else:
            db.session.commit()
            flash(message)
            return redirect(url_for("quotes.detail", quote_id=quote.id))
    elif quote is not None:
        form = quote_to_form(lookups.version_of(db.session, quote).content)
    else:
        form = {
            "currency": current_user.currency,
            "auto_approve_days": "7",
            "ms-0-trigger": t.ON_ACCEPTANCE,
        }
    return render_template(
        "quotes/edit.html",
        form=form,
        errors=errors,
        quote=quote,
        rows=range(ROWS),
        triggers=t.TRIGGERS,
        eu_countries=sorted(EU_COUNTRIES),  # the live totals' reverse-charge test
    ), (422 if errors else 200)


@bp.route("/quotes/new", methods=["GET", "POST"])
@login_required
def new():
    return _editor()


@bp.route("/quotes/<int:quote_id>/edit", methods=["GET", "POST"])
@login_required
def edit(quote_id: int):
    quote = _own(quote_id)
    if quote.status not in t.EDITABLE:
        flash(_("An accepted, declined or expired quote cannot be changed."))
        return redirect(url_for("quotes.detail", quote_id=quote.id))
    return _editor(quote)


@bp.get("/quotes/<int:quote_id>")
@login_required
def detail(quote_id: int):
    quote = _own(quote_id)
    return render_template("quotes/detail.html", quote=quote, q=quote_json(db.session, quote))


def _act(quote_id: int, action: Any) -> Any:
    try:
        action()
    except (QuoteError, ValidationError) as exc:
        db.session.rollback()
        flash(getattr(exc, "message", None) or _("Some fields are invalid."))
    else:
        db.session.commit()
    return redirect(url_for("quotes.detail", quote_id=quote_id))


@bp.post("/quotes/<int:quote_id>/send")
@login_required
def send(quote_id: int):
    quote = _own(quote_id)

    def run() -> None:
        sending.send_quote(db.session, current_user, quote)
        flash(_("Quote sent to %(email)s.", email=quote.client_email))

    return _act(quote.id, run)


def _own_milestone(milestone_id: int):  # noqa: ANN202
    milestone = lookups.milestone_for(db.session, current_user.id, milestone_id)
    if milestone is None:
        abort(404)
    return milestone


@bp.post("/milestones/<int:milestone_id>/<action>")
@login_required
def milestone_action(milestone_id: int, action: str):
    milestone = _own_milestone(milestone_id)
    note = request.form.get("note", "")[:5000]

    def run() -> None:
        if action == "deliver":
            milestones.deliver_milestone(db.session, current_user, milestone, note)
            flash(_("Marked delivered; the client has been e-mailed."))
        elif action in ("revise", "charge"):
            milestones.resolve_objection(db.session, current_user, milestone, action, note)
            flash(_("Objection resolved."))
        elif action == "cancel":
            milestones.cancel_milestone(db.session, current_user, milestone, note)
            flash(_("Milestone cancelled."))
        elif action == "manual-payment":
            paid_on = request.form.get("paid_on") or date.today().isoformat()
            try:
                day = date.fromisoformat(paid_on)
            except ValueError:
                raise QuoteError(422, _("Give the transfer date as YYYY-MM-DD.")) from None
            milestones.record_manual_payment(db.session, current_user, milestone, note, day)
            flash(_("Bank transfer recorded."))
        else:
            abort(404)

    return _act(milestone.quote_id, run)
