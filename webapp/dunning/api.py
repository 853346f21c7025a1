"""The dunning JSON API (CONTRACT.md): the freelancer's cases and settings, and the
client's public "fix my payment" endpoints."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select

from billing import events
from billing.db import utcnow
from billing.dunning import rates
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.dunning.schedule import InvalidConfig
from billing.errors import AlreadyDone, GatewayError, NotAllowed
from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.dunning import cases, documents, pay, registered_letter
from webapp.dunning.pause import notify_freelancer_of_pause
from webapp.dunning.registered_letter import RegisteredLetterSchema
from webapp.dunning.schemas import (
    CaseSchema,
    DisputeSchema,
    NoteSchema,
    PayConfirmSchema,
    PromiseSchema,
    SettingsSchema,
    dump_settings,
)
from webapp.dunning.settings import save_settings
from webapp.dunning.views import dump_case
from webapp.errors import ApiError
from webapp.extensions import db, limiter


def _case(case_id: int) -> DunningCase:
    case = cases.get_case(db.session, current_freelancer().id, case_id)
    if case is None:
        raise ApiError(404, "No such dunning case.")
    return case


def _locked(case_id: int) -> DunningCase:
    from billing.locking import lock

    _case(case_id)
    return lock(db.session, DunningCase, case_id)


@bp.get("/dunning/cases")
@documented("List dunning cases", response={"type": "object"})
@token_required
def list_cases():
    rows = db.session.scalars(
        select(DunningCase)
        .where(DunningCase.freelancer_id == current_freelancer().id)
        .order_by(DunningCase.id.desc())
    ).all()
    now = utcnow()
    return jsonify({"cases": [dump_case(db.session, c, now=now) for c in rows]})


@bp.get("/dunning/cases/<int:case_id>")
@documented("Read a dunning case with its step timeline", response=CaseSchema)
@token_required
def get_case(case_id: int):
    return jsonify(dump_case(db.session, _case(case_id), now=utcnow(), full=True))


def _act(case_id: int, action) -> object:
    case = _locked(case_id)
    actor = events.freelancer_actor(current_freelancer().id)
    try:
        action(case, actor)
    except AlreadyDone as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code="already_done") from None
    except NotAllowed as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code="not_allowed") from None
    db.session.commit()
    return jsonify(dump_case(db.session, case, now=utcnow(), full=True))


@bp.post("/dunning/cases/<int:case_id>/pause")
@documented("Pause a case", body=NoteSchema, response=CaseSchema)
@token_required
def pause_case(case_id: int):
    note = NoteSchema().load(json_body())["note"]
    return _act(
        case_id,
        lambda case, actor: engine.pause(
            db.session, case, kind="freelancer", actor=actor, now=utcnow(), reason=note
        ),
    )


@bp.post("/dunning/cases/<int:case_id>/resume")
@documented("Resume a paused case", body=NoteSchema, response=CaseSchema)
@token_required
def resume_case(case_id: int):
    NoteSchema().load(json_body())
    return _act(
        case_id, lambda case, actor: engine.resume(db.session, case, actor=actor, now=utcnow())
    )


@bp.post("/dunning/cases/<int:case_id>/resolve")
@documented("Resolve a case (settled outside Acompte)", body=NoteSchema, response=CaseSchema)
@token_required
def resolve_case(case_id: int):
    note = NoteSchema().load(json_body())["note"]
    return _act(
        case_id,
        lambda case, actor: engine.close(
            db.session, case, engine.RESOLVED, actor=actor, now=utcnow(), data={"note": note}
        ),
    )


@bp.post("/dunning/cases/<int:case_id>/write-off")
@documented("Write a case off (give up the debt)", body=NoteSchema, response=CaseSchema)
@token_required
def write_off_case(case_id: int):
    note = NoteSchema().load(json_body())["note"]
    return _act(
        case_id,
        lambda case, actor: engine.close(
            db.session, case, engine.WRITTEN_OFF, actor=actor, now=utcnow(), data={"note": note}
        ),
    )


@bp.get("/dunning/settings")
@documented("Read the escalation settings", response=SettingsSchema)
@token_required
def get_settings():
    return jsonify(dump_settings(engine.config_for(db.session, current_freelancer().id)))


@bp.put("/dunning/settings")
@documented("Change the escalation settings", body=SettingsSchema, response=SettingsSchema)
@token_required
def put_settings():
    changes = SettingsSchema().load(json_body())
    try:
        config = save_settings(db.session, current_freelancer().id, changes)
    except InvalidConfig as exc:
        raise ApiError(422, "Some settings are invalid.", fields=exc.fields) from None
    db.session.commit()
    return jsonify(dump_settings(config))


# --- the client's link ----------------------------------------------------------


def _public_case(token: str) -> DunningCase:
    case = cases.case_for_token(db.session, token)
    if case is None:
        raise ApiError(404, "This payment link is not valid.")
    # End the read snapshot: on SQLite a read transaction that later writes fails
    # at once (not after the busy timeout) if another connection wrote meanwhile,
    # e.g. a Stripe webhook arriving during this request.
    db.session.commit()
    return case


@bp.get("/public/pay/<token>")
@documented(
    "The fix-my-payment page's data: what is owed and why",
    auth=False,
    tag="public",
    response={"type": "object"},
)
@limiter.limit("60/minute")
def public_pay(token: str):
    from webapp.stripe_connect import credentials, gateway

    # Read, not locked: `pay.setup_secret` calls Stripe, and no lock waits on the network.
    case = _public_case(token)
    invoice = cases.invoice_of(db.session, case)
    body = {
        "status": "paid" if case.status == engine.PAID else case.status,
        "amount_minor": cases.amount_due(db.session, case),
        "currency": case.currency,
        "reason": case.reason,
        "invoice_number": invoice.number if invoice else None,
        "setup_intent_client_secret": None,
        "publishable_key": credentials(case.freelancer_id).publishable_key,
        # What is due is charged at once: the page gives the card with it (one 3-D Secure).
        "card_step": "payment",
    }
    if case.status not in engine.CLOSED:
        try:
            body["setup_intent_client_secret"] = pay.setup_secret(
                db.session, gateway(case.freelancer_id), case.id
            )
        except GatewayError as exc:
            db.session.rollback()
            raise ApiError(
                503, "The payment service is unavailable; try again.", code=exc.code
            ) from None
    return jsonify(body)


@bp.post("/public/pay/<token>/confirm")
@documented(
    "After a new card is saved: pay what is due (or read the 3-D Secure outcome)",
    auth=False,
    tag="public",
    response={"type": "object"},
)
@limiter.limit("30/minute")
def public_pay_confirm(token: str):
    from webapp.stripe_connect import gateway

    case = _public_case(token)
    card = PayConfirmSchema().load(request.get_json(silent=True) or {})["payment_method_id"]
    try:
        answer = pay.confirm(
            db.session, gateway(case.freelancer_id), case.id, now=utcnow(), payment_method_id=card
        )
    except NotAllowed as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code="not_allowed") from None
    except GatewayError as exc:
        db.session.rollback()
        raise ApiError(
            503, "The payment service is unavailable; try again.", code=exc.code
        ) from None
    body = {"status": answer.status}
    if answer.payment_intent_client_secret:
        body["payment_intent_client_secret"] = answer.payment_intent_client_secret
    return jsonify(body)


@bp.post("/public/pay/<token>/retry")
@documented(
    "Try the card on file again (not after a hard decline); answers like confirm",
    auth=False,
    tag="public",
    response={"type": "object"},
)
@limiter.limit("10/minute")
def public_pay_retry(token: str):
    from webapp.stripe_connect import gateway

    case = _public_case(token)
    answer = pay.retry_saved_card(db.session, gateway(case.freelancer_id), case.id, now=utcnow())
    body = {"status": answer.status}
    if answer.payment_intent_client_secret:
        body["payment_intent_client_secret"] = answer.payment_intent_client_secret
    return jsonify(body)


@bp.post("/public/pay/<token>/dispute")
@documented(
    "The client disputes the claim (pauses the reminders)",
    body=DisputeSchema,
    auth=False,
    tag="public",
)
@limiter.limit("10/minute")
def public_dispute(token: str):
    reason = DisputeSchema().load(json_body())["reason"]
    return _client_pause(token, kind="dispute", reason=reason)


@bp.post("/public/pay/<token>/promise")
@documented(
    "The client promises to pay by a date (pauses until then)",
    body=PromiseSchema,
    auth=False,
    tag="public",
)
@limiter.limit("10/minute")
def public_promise(token: str):
    day = PromiseSchema().load(json_body())["date"]
    return _client_pause(token, kind="promise", promise_date=day)


def _client_pause(token: str, **kwargs) -> object:
    from billing.locking import lock

    case = lock(db.session, DunningCase, _public_case(token).id)
    try:
        engine.pause(db.session, case, actor=events.CLIENT, now=utcnow(), **kwargs)
    except (AlreadyDone, NotAllowed) as exc:
        db.session.rollback()
        status = 422 if "date" in str(exc) or "reason" in str(exc) else 409
        raise ApiError(status, str(exc)) from None
    notify_freelancer_of_pause(db.session, case)
    db.session.commit()
    return jsonify({"status": case.status, "pause_kind": case.pause_kind})


# --- the case's documents (issue 11) ------------------------------------------------


@bp.post("/dunning/cases/<int:case_id>/registered-letter")
@documented(
    "Record the registered letter: number, sent_on, received_on (or not_sent)",
    body=RegisteredLetterSchema,
    response=CaseSchema,
)
@token_required
def record_registered_letter(case_id: int):
    data = RegisteredLetterSchema().load(json_body())
    return _act(
        case_id, lambda case, actor: registered_letter.record(db.session, case, data, actor=actor)
    )


def _pdf(data: bytes, name: str):
    from flask import Response

    return Response(
        data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/dunning/cases/<int:case_id>/formal-notice.pdf")
@documented("The mise en demeure as a PDF (application/pdf)", response={"type": "string"})
@token_required
def get_formal_notice_pdf(case_id: int):
    case = _case(case_id)
    try:
        body = documents.formal_notice(db.session, case, now=utcnow())
    except rates.MissingRate as exc:
        raise ApiError(409, str(exc), code="rates_missing") from None
    return _pdf(body, f"mise-en-demeure-{case.id}.pdf")


@bp.get("/dunning/cases/<int:case_id>/recourse-pack.pdf")
@documented("The recourse pack as one PDF (application/pdf)", response={"type": "string"})
@token_required
def get_recourse_pack_pdf(case_id: int):
    case = _case(case_id)
    try:
        body = documents.recourse_pack(db.session, case, now=utcnow())
    except rates.MissingRate as exc:
        raise ApiError(409, str(exc), code="rates_missing") from None
    db.session.commit()  # an older invoice's first stored rendering is kept
    return _pdf(body, f"dossier-recouvrement-{case.id}.pdf")
