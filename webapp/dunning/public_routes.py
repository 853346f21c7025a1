"""The client's "fix my payment" page (`/pay/<token>`), with the dispute and
promise-to-pay forms. Card entry and 3-D Secure run in `static/js/pay.js`
against the public JSON API, whose payment use cases (`webapp.dunning.pay`)
commit themselves; these views commit only the pauses they record."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from marshmallow import ValidationError

from billing import events
from billing.db import utcnow
from billing.dunning import service as engine
from billing.dunning.letters import Formatter
from billing.dunning.models import DunningCase
from billing.errors import AlreadyDone, NotAllowed
from billing.locking import lock
from webapp.accounts.models import Freelancer
from webapp.dunning.cases import amount_due, case_for_token, invoice_of
from webapp.dunning.pause import notify_freelancer_of_pause
from webapp.dunning.reasons import reason_text
from webapp.dunning.schemas import DisputeSchema, PromiseSchema
from webapp.extensions import db, limiter

bp = Blueprint("dunning_public", __name__)
TOKEN_MAX_LENGTH = 200


@bp.after_request
def _private(response: Response) -> Response:
    # The path carries the link's secret: no Referer leak, no shared cache.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _lang_url() -> dict:
    # The public base template links to the same page in the other language.
    def lang_url(code: str) -> str:
        args = {**request.args.to_dict(), "lang": code}
        return url_for(request.endpoint or "accounts.home", **(request.view_args or {}), **args)

    return {"lang_url": lang_url}


def _case(token: str) -> DunningCase:
    if len(token) > TOKEN_MAX_LENGTH:
        abort(404)
    case = case_for_token(db.session, token)
    if case is None:
        abort(404)
    return case


def _page(token: str, case: DunningCase, errors: dict | None = None, status: int = 200):
    freelancer = db.session.get(Freelancer, case.freelancer_id)
    invoice = invoice_of(db.session, case)
    fmt = Formatter(case.locale, case.currency)
    config = {
        "stateUrl": url_for("api.public_pay", token=token),
        "confirmUrl": url_for("api.public_pay_confirm", token=token),
        "retryUrl": url_for("api.public_pay_retry", token=token),
        "messages": {
            "declined": _("Your card was declined. Please try another card."),
            "authentication_failed": _(
                "The authentication with your bank failed, so nothing was charged. "
                "Please try again."
            ),
            "network": _("We could not reach the server. Check your connection and try again."),
            "generic": _("Something went wrong. Nothing was charged; please try again."),
        },
    }
    return render_template(
        "dunning/pay.html",
        case=case,
        freelancer=freelancer,
        invoice=invoice,
        amount=fmt.money(amount_due(db.session, case)),
        reason=reason_text(case.reason),
        paid=case.status == engine.PAID,
        can_retry=bool(case.payment_method_id) and not case.hard_decline,
        closed=case.status in engine.CLOSED,
        token=token,
        errors=errors or {},
        form=request.form,
        today=date.today().isoformat(),
        js_config=config,
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
    ), status


@bp.get("/pay/<token>")
def pay_page(token: str):
    """What is owed, why the payment failed, and a card form to pay it."""
    return _page(token, _case(token))


@bp.post("/pay/<token>/dispute")
@limiter.limit("10/minute")
def dispute(token: str):
    """The client disputes the claim: reminders pause, the freelancer is told."""
    return _pause(token, DisputeSchema, kind="dispute")


@bp.post("/pay/<token>/promise")
@limiter.limit("10/minute")
def promise(token: str):
    """The client promises to pay by a date: reminders pause until then."""
    return _pause(token, PromiseSchema, kind="promise")


def _pause(token: str, schema, *, kind: str):
    case = _case(token)
    submitted = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        data = schema().load(submitted)
    except ValidationError as exc:
        return _page(token, case, errors=exc.messages, status=422)
    case = lock(db.session, DunningCase, case.id)
    try:
        engine.pause(
            db.session,
            case,
            kind=kind,
            actor=events.CLIENT,
            now=utcnow(),
            reason=data.get("reason", ""),
            promise_date=data.get("date"),
        )
    except AlreadyDone:
        db.session.rollback()
        return _page(token, case, errors={"_schema": [_("Already recorded.")]}, status=409)
    except NotAllowed:
        db.session.rollback()
        field = "date" if kind == "promise" else "reason"
        message = _("Choose a date in the future.") if kind == "promise" else _("Not possible now.")
        return _page(token, case, errors={field: [message]}, status=422)
    notify_freelancer_of_pause(db.session, case)
    db.session.commit()
    return redirect(url_for("dunning_public.pay_page", token=token, noted=kind))
