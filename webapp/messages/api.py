"""Paid messages over the JSON API: the freelancer's inbox and the client's thread."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import jsonify, request
from flask_babel import get_locale
from sqlalchemy.orm import Session

from billing.db import utcnow
from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.errors import ApiError
from webapp.extensions import db, limiter
from webapp.messages import answering, attachments, checkout, service, states, threads
from webapp.messages.models import Attachment, Question
from webapp.messages.schemas import (
    MessageAnswerSchema,
    MessageAskCreatedSchema,
    MessageAskSchema,
    MessageConfirmResultSchema,
    MessageConfirmSchema,
    MessageDeclineSchema,
    MessageFollowUpSchema,
    MessageSchema,
    MessageSettingsSchema,
)
from webapp.stripe_connect import credentials, gateway

F = TypeVar("F", bound=Callable[..., Any])
_MESSAGE_LIST = {"type": "object", "properties": {"messages": {"type": "array"}}}


def translate_errors(view: F) -> F:
    """Named errors as the contract's error shape; nothing half-done is kept."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except states.NotFound:
            db.session.rollback()
            raise ApiError(404, "No such message.") from None
        except states.DeadlinePassed as exc:
            db.session.rollback()
            raise ApiError(409, str(exc), code="deadline_passed") from None
        # AlreadyDone, NotAllowed and gateway errors: webapp.errors answers them.

    return wrapper  # type: ignore[return-value]


def dump_settings(settings: Any) -> dict[str, Any]:
    """The settings as the API shows them (defaults when never saved)."""
    if settings is None:
        return {
            "enabled": False,
            "price_minor": None,
            "currency": None,
            "urgent_price_minor": None,
            "urgent_delay_hours": None,
            "answer_delay_hours": 72,
            "free_follow_up": True,
        }
    return {
        "enabled": settings.enabled,
        "price_minor": settings.price_minor,
        "currency": settings.currency,
        "urgent_price_minor": settings.urgent_price_minor,
        "urgent_delay_hours": settings.urgent_delay_hours,
        "answer_delay_hours": settings.answer_delay_hours,
        "free_follow_up": settings.free_follow_up,
    }


def dump_question(session: Session, question: Question) -> dict[str, Any]:
    """One question with its answer, receipt and files, as both parties see it."""
    reply = threads.answer_of(session, question)
    return {
        "id": question.id,
        "status": question.status,
        "client": {"name": question.client_name, "email": question.client_email},
        "text": question.text,
        "urgent": question.urgent,
        "amount_minor": question.amount_minor,
        "currency": question.currency,
        "deadline_at": question.deadline_at.isoformat() if question.deadline_at else None,
        "seconds_left": threads.time_left(question, utcnow()),
        "follow_up_of": question.follow_up_of_id,
        "answer": (
            {"text": reply.text, "sent_at": reply.sent_at.isoformat() if reply.sent_at else None}
            if reply is not None
            else None
        ),
        "decline_reason": question.decline_reason,
        "capture_error": question.capture_error,
        "receipt": threads.receipt(session, question),
        "attachments": [
            {
                "id": a.id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size_bytes": a.size_bytes,
                "from": "client" if a.question_id else "freelancer",
            }
            for a in threads.attachments_of(session, question)
        ],
    }


def _attachment_of(question: Question, attachment_id: int) -> Attachment:
    for attachment in threads.attachments_of(db.session, question):
        if attachment.id == attachment_id:
            return attachment
    raise ApiError(404, "No such file.")


# --- freelancer --------------------------------------------------------------


@bp.get("/messages/settings")
@documented("Read the paid-message settings", response=MessageSettingsSchema, tag="messages")
@token_required
def get_message_settings():
    return jsonify(dump_settings(service.settings_for(db.session, current_freelancer().id)))


@bp.put("/messages/settings")
@documented(
    "Set the paid-message offer",
    body=MessageSettingsSchema,
    response=MessageSettingsSchema,
    tag="messages",
)
@token_required
def put_message_settings():
    data = MessageSettingsSchema().load(json_body())
    settings = service.save_settings(db.session, current_freelancer(), data)
    db.session.commit()
    return jsonify(dump_settings(settings))


@bp.get("/messages")
@documented(
    "The inbox: open questions first, with the time left", response=_MESSAGE_LIST, tag="messages"
)
@token_required
def list_messages():
    rows = threads.inbox(db.session, current_freelancer().id)
    return jsonify({"messages": [dump_question(db.session, q) for q in rows]})


@bp.get("/messages/<int:question_id>")
@documented("One question", response=MessageSchema, tag="messages")
@token_required
@translate_errors
def get_message(question_id: int):
    question = threads.owned_question(db.session, current_freelancer().id, question_id)
    return jsonify(dump_question(db.session, question))


@bp.post("/messages/<int:question_id>/answer")
@documented(
    "Answer: captures the hold, then sends the answer (409 capture_failed: unsent)",
    body=MessageAnswerSchema,
    response=MessageSchema,
    tag="messages",
)
@token_required
@translate_errors
def answer_message(question_id: int):
    data = MessageAnswerSchema().load(json_body())
    freelancer = current_freelancer()
    question = answering.answer(
        db.session,
        gateway(freelancer.id),
        freelancer.id,
        question_id,
        data["text"],
        now=utcnow(),
    )
    db.session.commit()
    if question.status == states.CAPTURE_FAILED:
        raise ApiError(
            409,
            "The payment could not be captured, so the answer was saved but not sent. "
            "Submit it again to retry before the deadline.",
            code="capture_failed",
            fields={"capture_error": question.capture_error},
        )
    return jsonify(dump_question(db.session, question))


@bp.post("/messages/<int:question_id>/decline")
@documented(
    "Decline: releases the hold and tells the client why",
    body=MessageDeclineSchema,
    response=MessageSchema,
    tag="messages",
)
@token_required
@translate_errors
def decline_message(question_id: int):
    data = MessageDeclineSchema().load(json_body())
    freelancer = current_freelancer()
    question = answering.decline(
        db.session,
        gateway(freelancer.id),
        freelancer.id,
        question_id,
        data["reason"],
        now=utcnow(),
    )
    db.session.commit()
    return jsonify(dump_question(db.session, question))


@bp.get("/messages/<int:question_id>/attachments/<int:attachment_id>")
@documented("Download a file of one of your questions", tag="messages")
@token_required
@translate_errors
def download_message_attachment(question_id: int, attachment_id: int):
    question = threads.owned_question(db.session, current_freelancer().id, question_id)
    return attachments.download(_attachment_of(question, attachment_id))


# --- client (public, token) --------------------------------------------------


@bp.post("/public/freelancers/<slug>/messages")
@documented(
    "Ask a paid question: returns the thread token and the SetupIntent secret",
    body=MessageAskSchema,
    response=MessageAskCreatedSchema,
    status=201,
    auth=False,
    tag="public",
)
@limiter.limit("30/hour")
@translate_errors
def ask_message(slug: str):
    data = MessageAskSchema().load(json_body())
    freelancer, settings = service.open_offer(db.session, slug)
    question, token, secret = service.ask(
        db.session,
        gateway(freelancer.id),
        freelancer,
        settings,
        data,
        locale=str(get_locale() or "fr"),
    )
    db.session.commit()
    return jsonify(
        {
            "message_id": question.id,
            "token": token,
            "setup_intent_client_secret": secret,
            "publishable_key": credentials(freelancer.id).publishable_key,
            # The hold is placed at once: the page gives the card with it (one 3-D Secure).
            "card_step": "payment",
        }
    ), 201


@bp.post("/public/messages/<int:question_id>/confirm")
@documented(
    "After the card is saved: place the hold (3-D Secure: requires_action)",
    body=MessageConfirmSchema,
    response=MessageConfirmResultSchema,
    auth=False,
    tag="public",
)
@translate_errors
def confirm_message(question_id: int):
    data = MessageConfirmSchema().load(json_body())
    question = threads.thread_question(db.session, question_id, data["token"])
    outcome = checkout.confirm_hold(
        db.session,
        gateway(question.freelancer_id),
        question.id,
        now=utcnow(),
        payment_method_id=data["payment_method_id"],
    )
    body = {"status": outcome.status}
    for key in ("payment_intent_client_secret", "setup_intent_client_secret", "reason"):
        if getattr(outcome, key):
            body[key] = getattr(outcome, key)
    return jsonify(body)


@bp.get("/public/messages/<int:question_id>")
@documented(
    "The client's view of a question (?token=…)", response=MessageSchema, auth=False, tag="public"
)
@translate_errors
def public_message(question_id: int):
    question = threads.thread_question(db.session, question_id, request.args.get("token", ""))
    body = dump_question(db.session, question)
    body.pop("capture_error")
    return jsonify(body)


@bp.post("/public/messages/<int:question_id>/follow-up")
@documented(
    "The one free follow-up in an answered thread (if the freelancer allows it)",
    body=MessageFollowUpSchema,
    response=MessageSchema,
    status=201,
    auth=False,
    tag="public",
)
@translate_errors
def follow_up_message(question_id: int):
    data = MessageFollowUpSchema().load(json_body())
    question = threads.thread_question(db.session, question_id, data["token"])
    follow = service.follow_up(db.session, question, data["text"], now=utcnow())
    db.session.commit()
    body = dump_question(db.session, follow)
    body.pop("capture_error")
    return jsonify(body), 201


@bp.post("/public/messages/<int:question_id>/attachments")
@documented(
    "Join a file to the question (multipart: token, file; PDF/PNG/JPEG/text, 5 MB)",
    status=201,
    auth=False,
    tag="public",
)
@limiter.limit("30/hour")
@translate_errors
def upload_message_attachment(question_id: int):
    question = threads.thread_question(db.session, question_id, request.form.get("token", ""))
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "Choose a file.", fields={"file": ["Missing."]})
    if question.status not in (states.PENDING_PAYMENT, states.AWAITING_ANSWER):
        raise ApiError(409, "Files can be added only before the answer.", code="not_allowed")
    try:
        attachment = attachments.store(
            db.session, question, upload.stream, upload.filename or "", actor="client"
        )
    except attachments.AttachmentRefused as exc:
        db.session.rollback()
        raise ApiError(exc.status, exc.message, fields={"file": [exc.message]}) from None
    db.session.commit()
    return jsonify(
        {
            "id": attachment.id,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size_bytes": attachment.size_bytes,
        }
    ), 201


@bp.get("/public/messages/<int:question_id>/attachments/<int:attachment_id>")
@documented("Download a file of your thread (?token=…)", auth=False, tag="public")
@translate_errors
def public_message_attachment(question_id: int, attachment_id: int):
    question = threads.thread_question(db.session, question_id, request.args.get("token", ""))
    return attachments.download(_attachment_of(question, attachment_id))
