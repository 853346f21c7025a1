"""The client's pages: the ask page `/<slug>/ask` and the private thread `/m/<token>`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from billing.db import utcnow
from billing.errors import AlreadyDone, NotAllowed
from webapp.extensions import db
from webapp.messages import attachments, service, states, threads
from webapp.messages.schemas import MessageFollowUpSchema
from webapp.public.wording import money
from webapp.stripe_connect import credentials

bp = Blueprint("messages_public", __name__)


@bp.get("/<slug>/ask")
def ask(slug: str):
    try:
        freelancer, settings = service.open_offer(db.session, slug)
    except states.NotFound:
        abort(404)
    urgent = None
    if settings.urgent_price_minor is not None:
        urgent = {
            "price": money(settings.urgent_price_minor, settings.currency),
            "hours": settings.urgent_delay_hours,
        }
    return render_template(
        "messages/ask.html",
        freelancer=freelancer,
        settings=settings,
        price=money(settings.price_minor, settings.currency),
        urgent=urgent,
        publishable_key=credentials(freelancer.id).publishable_key,
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
        max_mb=attachments.MAX_BYTES // (1024 * 1024),
    )


def _thread(token: str) -> Any:
    try:
        return threads.thread_by_token(db.session, token)
    except states.NotFound:
        abort(404)


@bp.get("/m/<token>")
def conversation(token: str, errors: dict[str, list[str]] | None = None, form: Any = None):
    root = _thread(token)
    items = []
    for question in threads.thread(db.session, root):
        reply = threads.answer_of(db.session, question)
        items.append(
            {
                "question": question,
                # An answer is shown only once sent (after the capture succeeded).
                "reply": reply if reply is not None and reply.sent_at is not None else None,
                "files": threads.attachments_of(db.session, question),
                "receipt": threads.receipt(db.session, question),
                "amount": money(question.amount_minor, question.currency),
            }
        )
    settings = service.settings_for(db.session, root.freelancer_id)
    can_follow_up = (
        settings is not None
        and settings.free_follow_up
        and root.status == states.ANSWERED
        and len(items) == 1
    )
    from webapp.accounts.models import Freelancer

    freelancer = db.session.get(Freelancer, root.freelancer_id)
    response = (
        render_template(
            "messages/conversation.html",
            token=token,
            root=root,
            items=items,
            freelancer=freelancer,
            can_follow_up=can_follow_up,
            errors=errors or {},
            form=form or {},
        ),
        (422 if errors else 200),
    )
    return response


@bp.post("/m/<token>/follow-up")
def follow_up(token: str):
    root = _thread(token)
    submitted = {"token": token, "text": request.form.get("text", "")}
    try:
        data = MessageFollowUpSchema().load(submitted)
        service.follow_up(db.session, root, data["text"], now=utcnow())
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {}
        return conversation(token, errors=messages, form=submitted)
    except (AlreadyDone, NotAllowed) as exc:
        db.session.rollback()
        return conversation(token, errors={"_schema": [str(exc)]}, form=submitted)
    db.session.commit()
    flash(_("Follow-up sent."))
    return redirect(url_for("messages_public.conversation", token=token))


@bp.get("/m/<token>/attachments/<int:attachment_id>")
def attachment(token: str, attachment_id: int):
    root = _thread(token)
    for question in threads.thread(db.session, root):
        for item in threads.attachments_of(db.session, question):
            if item.id == attachment_id:
                return attachments.download(item)
    abort(404)
