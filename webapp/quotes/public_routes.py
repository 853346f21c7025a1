"""The client's pages: the quote (/q/<token>), its PDF, and a milestone's approve/object page."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from webapp.accounts.models import Freelancer, hash_token
from webapp.extensions import db, limiter
from webapp.quotes import lookups, milestones, pdf, sending
from webapp.quotes import transitions as t
from webapp.quotes.errors import QuoteError
from webapp.quotes.models import Milestone, Quote
from webapp.quotes.views import public_quote_json

bp = Blueprint("quotes_public", __name__)


def _quote(token: str) -> Quote:
    quote = lookups.quote_by_token(db.session, token)
    if quote is None or quote.status == t.DRAFT:
        abort(404)
    return quote


def _context(quote: Quote) -> dict[str, Any]:
    from webapp.stripe_connect import credentials

    freelancer = db.session.get(Freelancer, quote.freelancer_id)
    data = public_quote_json(db.session, quote)
    return {
        "quote": quote,
        "q": data,
        "c": data["content"],
        "freelancer": freelancer,
        "publishable_key": credentials(quote.freelancer_id).publishable_key,
        "stripe_js_url": current_app.config["STRIPE_JS_URL"],
        "pdf_available": pdf.available(),
    }


@bp.get("/q/<token>")
@limiter.limit("120/minute")
def quote_page(token: str):
    quote = _quote(token)
    sending.mark_viewed(db.session, quote)
    db.session.commit()
    return render_template("quotes/public.html", token=token, **_context(quote))


@bp.get("/q/<token>/pdf")
@limiter.limit("30/minute")
def quote_pdf(token: str):
    quote = _quote(token)
    if not pdf.available():
        abort(404)
    body = pdf.render_quote_pdf(_context(quote), base_url=request.url_root)
    name = f"quote-{quote.id}-v{quote.current_version}.pdf"
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


def _client_action(milestone: Milestone, action: str, reason: str) -> None:
    try:
        if action == "approve":
            milestones.approve_milestone(db.session, milestone)
            flash(_("Thank you: approved. The payment follows automatically."))
        elif action == "object":
            milestones.object_to_milestone(db.session, milestone, reason)
            flash(_("Your objection was sent; no payment is taken until it is resolved."))
        else:
            abort(404)
    except QuoteError as exc:
        db.session.rollback()
        flash(exc.message)
    else:
        db.session.commit()


@bp.post("/q/<token>/milestones/<int:milestone_id>/<action>")
@limiter.limit("20/minute")
def quote_milestone_action(token: str, milestone_id: int, action: str):
    quote = _quote(token)
    milestone = db.session.scalar(
        select(Milestone).where(Milestone.id == milestone_id, Milestone.quote_id == quote.id)
    )
    if milestone is None:
        abort(404)
    _client_action(milestone, action, request.form.get("reason", "")[:5000])
    return redirect(url_for("quotes_public.quote_page", token=token))


def _milestone(token: str) -> Milestone:
    milestone = db.session.scalar(
        select(Milestone).where(Milestone.client_token_hash == hash_token(token))
    )
    if milestone is None:
        abort(404)
    return milestone


@bp.route("/milestones/<token>", methods=["GET", "POST"])
@limiter.limit("60/minute")
def milestone_page(token: str):
    milestone = _milestone(token)
    if request.method == "POST":
        _client_action(
            milestone, request.form.get("action", ""), request.form.get("reason", "")[:5000]
        )
        return redirect(url_for("quotes_public.milestone_page", token=token))
    quote = db.session.get(Quote, milestone.quote_id)
    freelancer = db.session.get(Freelancer, milestone.freelancer_id)
    return render_template(
        "quotes/milestone.html",
        milestone=milestone,
        quote=quote,
        freelancer=freelancer,
        token=token,
    )
