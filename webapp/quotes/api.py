"""Quotes and milestones over the JSON API (CONTRACT.md), freelancer and client sides.

Views commit what the service functions flushed (no money moves in those);
the deposit's checkout (`webapp.quotes.checkout.confirm`) commits itself, and
its view only reads the result.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from flask import jsonify, request
from marshmallow import ValidationError

from billing.checkout import NeedsAction
from billing.errors import GatewayError
from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.errors import ApiError
from webapp.extensions import db, limiter
from webapp.quotes import checkout, drafting, lookups, milestones, schemas, sending
from webapp.quotes import transitions as t
from webapp.quotes.content import ContentError
from webapp.quotes.errors import QuoteError
from webapp.quotes.models import Quote
from webapp.quotes.views import milestone_json, public_quote_json, quote_json, quote_summary

_OBJ = {"type": "object", "additionalProperties": True}


def answers_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Service errors to the contract's error shape; whatever was flushed is rolled back."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except QuoteError as exc:
            db.session.rollback()
            raise ApiError(exc.status, exc.message, code=exc.code) from None
        except ContentError as exc:
            db.session.rollback()
            raise ApiError(422, "Some fields are invalid.", fields=exc.fields) from None
        except ValidationError:
            db.session.rollback()
            raise
        except GatewayError as exc:
            db.session.rollback()
            raise ApiError(
                502, f"The payment provider refused or did not answer: {exc}", code=exc.code
            ) from None

    return wrapper


def _gateway(freelancer_id: int):  # noqa: ANN202
    from webapp.stripe_connect import gateway

    return gateway(freelancer_id)


def _own_quote(quote_id: int) -> Quote:
    quote = lookups.quote_for(db.session, current_freelancer().id, quote_id)
    if quote is None:
        raise ApiError(404, "No such quote.")
    return quote


def _public_quote(token: str) -> Quote:
    quote = lookups.quote_by_token(db.session, token)
    if quote is None or quote.status == t.DRAFT:
        raise ApiError(404, "No such quote.")
    return quote


# --- freelancer ---------------------------------------------------------------


@bp.post("/quotes")
@documented(
    "Create a quote (a draft, version 1)",
    body=schemas.QuoteSchema,
    response=_OBJ,
    status=201,
    tag="quotes",
)
@token_required
@answers_errors
def create_quote():
    data = schemas.QuoteSchema().load(json_body())
    quote, token = drafting.create_quote(db.session, current_freelancer(), data)
    db.session.commit()
    return jsonify({**quote_json(db.session, quote), "public_token": token}), 201


@bp.get("/quotes")
@documented("List the quotes", response=_OBJ, tag="quotes")
@token_required
def list_quotes():
    quotes = lookups.quotes_of(db.session, current_freelancer().id)
    return jsonify({"quotes": [quote_summary(q) for q in quotes]})


@bp.get("/quotes/<int:quote_id>")
@documented(
    "A quote with its versions, acceptance evidence, milestones and timeline",
    response=_OBJ,
    tag="quotes",
)
@token_required
def get_quote(quote_id: int):
    return jsonify(quote_json(db.session, _own_quote(quote_id)))


@bp.patch("/quotes/<int:quote_id>")
@documented(
    "Change a quote: makes a new version (not once accepted)",
    body=schemas.QuoteSchema,
    response=_OBJ,
    tag="quotes",
)
@token_required
@answers_errors
def patch_quote(quote_id: int):
    quote = _own_quote(quote_id)
    data = schemas.QuoteSchema(partial=schemas.PATCH_PARTIAL).load(json_body())
    data = {k: v for k, v in data.items() if k in json_body()}
    drafting.revise_quote(db.session, current_freelancer(), quote, data)
    db.session.commit()
    return jsonify(quote_json(db.session, quote))


@bp.post("/quotes/<int:quote_id>/send")
@documented("E-mail the client the quote link", response=_OBJ, tag="quotes")
@token_required
@answers_errors
def send_quote(quote_id: int):
    quote = _own_quote(quote_id)
    sending.send_quote(db.session, current_freelancer(), quote)
    db.session.commit()
    return jsonify(quote_json(db.session, quote))


def _own_milestone(milestone_id: int):  # noqa: ANN202
    milestone = lookups.milestone_for(db.session, current_freelancer().id, milestone_id)
    if milestone is None:
        raise ApiError(404, "No such milestone.")
    return milestone


def _body_or_empty() -> dict[str, Any]:
    return json_body() if request.get_data() else {}


@bp.post("/milestones/<int:milestone_id>/deliver")
@documented(
    "Mark a milestone delivered; the client approves, objects, or it is auto-approved",
    body=schemas.MilestoneDeliverSchema,
    response=_OBJ,
    tag="quotes",
)
@token_required
@answers_errors
def deliver(milestone_id: int):
    milestone = _own_milestone(milestone_id)
    data = schemas.MilestoneDeliverSchema().load(_body_or_empty())
    milestones.deliver_milestone(db.session, current_freelancer(), milestone, data["note"])
    db.session.commit()
    return jsonify(milestone_json(db.session, milestone, private=True))


@bp.post("/milestones/<int:milestone_id>/resolve")
@documented(
    "Resolve an objection: revise, charge (agreed with the client) or cancel",
    body=schemas.MilestoneResolveSchema,
    response=_OBJ,
    tag="quotes",
)
@token_required
@answers_errors
def resolve(milestone_id: int):
    milestone = _own_milestone(milestone_id)
    data = schemas.MilestoneResolveSchema().load(json_body())
    milestones.resolve_objection(
        db.session, current_freelancer(), milestone, data["action"], data["note"]
    )
    db.session.commit()
    return jsonify(milestone_json(db.session, milestone, private=True))


@bp.post("/milestones/<int:milestone_id>/cancel")
@documented(
    "Cancel a milestone: it will never be charged",
    body=schemas.MilestoneDeliverSchema,
    response=_OBJ,
    tag="quotes",
)
@token_required
@answers_errors
def cancel(milestone_id: int):
    milestone = _own_milestone(milestone_id)
    data = schemas.MilestoneDeliverSchema().load(_body_or_empty())
    milestones.cancel_milestone(db.session, current_freelancer(), milestone, data["note"])
    db.session.commit()
    return jsonify(milestone_json(db.session, milestone, private=True))


@bp.post("/milestones/<int:milestone_id>/manual-payment")
@documented(
    "Record a bank transfer for a milestone",
    body=schemas.MilestoneManualPaymentSchema,
    response=_OBJ,
    tag="quotes",
)
@token_required
@answers_errors
def manual_payment(milestone_id: int):
    milestone = _own_milestone(milestone_id)
    data = schemas.MilestoneManualPaymentSchema().load(_body_or_empty())
    milestones.record_manual_payment(
        db.session,
        current_freelancer(),
        milestone,
        data["reference"],
        data["paid_on"] or date.today(),
    )
    db.session.commit()
    return jsonify(milestone_json(db.session, milestone, private=True))


# --- client -------------------------------------------------------------------


@bp.get("/public/quotes/<token>")
@documented("The quote as the client sees it", response=_OBJ, auth=False, tag="public")
@limiter.limit("120/minute")
def public_quote(token: str):
    quote = _public_quote(token)
    sending.mark_viewed(db.session, quote)
    db.session.commit()
    return jsonify(public_quote_json(db.session, quote))


def client_ip() -> str:
    """The client's address as our server saw it (a proxy must be configured to pass it)."""
    return request.remote_addr or ""


@bp.post("/public/quotes/<token>/accept")
@documented(
    "Sign the quote (typed name, terms) and get a SetupIntent to save the card",
    body=schemas.QuoteAcceptSchema,
    response=_OBJ,
    auth=False,
    tag="public",
)
@limiter.limit("20/minute")
@answers_errors
def accept(token: str):
    quote = _public_quote(token)
    data = schemas.QuoteAcceptSchema().load(json_body())
    acceptance, secret = checkout.start_acceptance(
        db.session,
        _gateway(quote.freelancer_id),
        quote,
        signer_name=data["signer_name"],
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent", ""),
    )
    if request.cookies.get("lang") in ("fr", "en"):
        # The client chose their language on the quote page (FR/EN): their
        # receipts, invoices and reminders follow it.
        quote.client_locale = request.cookies["lang"]
    db.session.commit()
    return jsonify(
        {
            "setup_intent_client_secret": secret,
            "acceptance_id": acceptance.id,
            "content_sha256": acceptance.content_sha256,
            "card_step": checkout.card_step(db.session, quote),
        }
    )


def deposit_answer(quote: Quote, action: NeedsAction | None) -> dict[str, Any]:
    """What the page needs after the deposit: the quote, its milestones, 3-D Secure if asked."""
    db.session.refresh(quote)
    rows = lookups.milestones_of(db.session, quote)
    deposit_failed = any(
        m.trigger == t.ON_ACCEPTANCE and m.status == t.PAYMENT_FAILED for m in rows
    )
    answer: dict[str, Any] = {
        "quote_status": quote.status,
        # `payment_failed`: accepted, card saved, but the deposit was declined.
        "status": t.PAYMENT_FAILED if deposit_failed else quote.status,
        "milestones": [milestone_json(db.session, m, private=False) for m in rows],
    }
    if action is not None:
        # The shape `AcompteCheckout.saveCardThenConfirm` expects: the page
        # runs 3-D Secure, then calls this endpoint again.
        answer["status"] = "requires_action"
        answer["requires_action"] = True
        answer["payment_intent_client_secret"] = action.client_secret
    return answer


@bp.post("/public/quotes/<token>/accept/confirm")
@documented(
    "After the card is saved: accept and charge the deposit",
    body=schemas.QuoteConfirmSchema,
    response=_OBJ,
    auth=False,
    tag="public",
)
@limiter.limit("30/minute")
@answers_errors
def accept_confirm(token: str):
    quote = _public_quote(token)
    data = schemas.QuoteConfirmSchema().load(_body_or_empty())
    action = checkout.confirm(
        db.session,
        _gateway(quote.freelancer_id),
        quote.id,
        acceptance_id=data["acceptance_id"],
        payment_method_id=data["payment_method_id"],
    )
    return jsonify(deposit_answer(quote, action))


@bp.post("/public/quotes/<token>/decline")
@documented(
    "The client declines the quote",
    body=schemas.QuoteDeclineSchema,
    response=_OBJ,
    auth=False,
    tag="public",
)
@limiter.limit("20/minute")
@answers_errors
def decline(token: str):
    quote = _public_quote(token)
    data = schemas.QuoteDeclineSchema().load(_body_or_empty())
    sending.decline_quote(db.session, quote, data["reason"])
    db.session.commit()
    return jsonify({"status": quote.status})


def _client_milestone(milestone_id: int, data: dict[str, Any]):  # noqa: ANN202
    milestone = lookups.milestone_by_client_token(db.session, milestone_id, data["token"])
    if milestone is None:
        raise ApiError(404, "No such milestone.")
    return milestone


@bp.post("/public/milestones/<int:milestone_id>/approve")
@documented(
    "The client approves a delivered milestone",
    body=schemas.ClientMilestoneSchema,
    response=_OBJ,
    auth=False,
    tag="public",
)
@limiter.limit("20/minute")
@answers_errors
def approve(milestone_id: int):
    data = schemas.ClientMilestoneSchema().load(json_body())
    milestone = _client_milestone(milestone_id, data)
    milestones.approve_milestone(db.session, milestone)
    db.session.commit()
    return jsonify(milestone_json(db.session, milestone, private=False))


@bp.post("/public/milestones/<int:milestone_id>/object")
@documented(
    "The client objects to a delivered milestone: the charge is paused",
    body=schemas.ClientMilestoneSchema,
    response=_OBJ,
    auth=False,
    tag="public",
)
@limiter.limit("20/minute")
@answers_errors
def object_(milestone_id: int):
    data = schemas.ClientMilestoneSchema().load(json_body())
    milestone = _client_milestone(milestone_id, data)
    milestones.object_to_milestone(db.session, milestone, data["reason"])
    db.session.commit()
    return jsonify(milestone_json(db.session, milestone, private=False))
