"""The freelancer's pages: inbox, one question (answer / decline), settings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from billing.db import utcnow
from billing.errors import AlreadyDone, GatewayError, NotAllowed
from billing.money import format_major, parse_major
from webapp.extensions import db
from webapp.messages import answering, attachments, service, states, threads
from webapp.messages.api import dump_settings
from webapp.messages.schemas import MessageAnswerSchema, MessageDeclineSchema, MessageSettingsSchema
from webapp.stripe_connect import gateway

bp = Blueprint("messages", __name__)


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}


def _int_or_raw(value: str | None) -> Any:
    if value is None or value.strip() == "":
        return None
    return int(value) if value.strip().isdigit() else value


@bp.get("/messages")
@login_required
def inbox():
    now = utcnow()
    rows = threads.inbox(db.session, current_user.id)
    return render_template(
        "messages/inbox.html",
        questions=rows,
        now=now,
        time_left=lambda q: threads.time_left(q, now),
        settings=service.settings_for(db.session, current_user.id),
    )


@bp.route("/messages/settings", methods=["GET", "POST"])
@login_required
def settings():
    errors: dict[str, list[str]] = {}
    form: dict[str, Any] = dump_settings(service.settings_for(db.session, current_user.id))
    if form["currency"] is None:
        form["currency"] = current_user.currency
    for key, field in (("price_minor", "price"), ("urgent_price_minor", "urgent_price")):
        if isinstance(form.get(key), int):
            form[field] = format_major(form[key], form["currency"])
    if request.method == "POST":
        submitted: dict[str, Any] = {
            "enabled": request.form.get("enabled") == "on",
            "free_follow_up": request.form.get("free_follow_up") == "on",
            "currency": request.form.get("currency", ""),
        }
        for key in ("urgent_delay_hours", "answer_delay_hours"):
            submitted[key] = _int_or_raw(request.form.get(key))
        # Prices are typed in euros ("25" or "25,50"); the API speaks minor units.
        for key, field in (("price_minor", "price"), ("urgent_price_minor", "urgent_price")):
            raw = (request.form.get(field) or "").strip()
            minor = parse_major(raw, submitted["currency"] or "eur") if raw else None
            submitted[key] = raw if raw and minor is None else minor
        if submitted["price_minor"] is None:
            submitted.pop("price_minor")
        if submitted["answer_delay_hours"] is None:
            submitted.pop("answer_delay_hours")
        form.update(submitted)
        try:
            data = MessageSettingsSchema().load(submitted)
        except ValidationError as exc:
            errors = _errors(exc)
            for key, field in (("price_minor", "price"), ("urgent_price_minor", "urgent_price")):
                if key in errors:
                    errors[field] = errors.pop(key)
        else:
            service.save_settings(db.session, current_user, data)
            db.session.commit()
            flash(_("Paid-message settings saved."))
            return redirect(url_for("messages.settings"))
    return render_template("messages/settings.html", form=form, errors=errors), (
        422 if errors else 200
    )


@bp.get("/messages/<int:question_id>")
@login_required
def show(question_id: int, errors: dict[str, list[str]] | None = None, form: Any = None):
    try:
        question = threads.owned_question(db.session, current_user.id, question_id)
    except states.NotFound:
        abort(404)
    now = utcnow()
    return render_template(
        "messages/show.html",
        question=question,
        reply=threads.answer_of(db.session, question),
        files=threads.attachments_of(db.session, question),
        receipt=threads.receipt(db.session, question),
        seconds_left=threads.time_left(question, now),
        errors=errors or {},
        form=form or {},
    ), (422 if errors else 200)


def _act(question_id: int, action: str) -> Any:
    schema = MessageAnswerSchema() if action == "answer" else MessageDeclineSchema()
    submitted = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        data = schema.load(submitted)
        gw = gateway(current_user.id)
        if action == "answer":
            question = answering.answer(
                db.session, gw, current_user.id, question_id, data["text"], now=utcnow()
            )
        else:
            question = answering.decline(
                db.session, gw, current_user.id, question_id, data["reason"], now=utcnow()
            )
    except ValidationError as exc:
        return show(question_id, errors=_errors(exc), form=submitted)
    except states.NotFound:
        abort(404)
    except (AlreadyDone, NotAllowed, GatewayError) as exc:
        db.session.rollback()
        return show(question_id, errors={"_schema": [str(exc)]}, form=submitted)
    db.session.commit()
    if question.status == states.CAPTURE_FAILED:
        flash(_("The payment could not be captured: your answer was saved but not sent."))
    elif action == "answer":
        flash(_("Answer sent; the payment was captured."))
    else:
        flash(_("Question declined; the client's card hold was released."))
    return redirect(url_for("messages.show", question_id=question_id))


@bp.post("/messages/<int:question_id>/answer")
@login_required
def answer(question_id: int):
    return _act(question_id, "answer")


@bp.post("/messages/<int:question_id>/decline")
@login_required
def decline(question_id: int):
    return _act(question_id, "decline")


@bp.get("/messages/<int:question_id>/attachments/<int:attachment_id>")
@login_required
def attachment(question_id: int, attachment_id: int):
    try:
        question = threads.owned_question(db.session, current_user.id, question_id)
    except states.NotFound:
        abort(404)
    for item in threads.attachments_of(db.session, question):
        if item.id == attachment_id:
            return attachments.download(item)
    abort(404)
