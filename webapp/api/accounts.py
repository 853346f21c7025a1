"""Sign-up, tokens and the business profile over the API."""

from __future__ import annotations

from flask import current_app, jsonify

from webapp.accounts import security, service
from webapp.accounts.models import ApiToken
from webapp.accounts.schemas import (
    ProfileSchema,
    SignupSchema,
    TokenRequestSchema,
    TokenSchema,
    dump_profile,
)
from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.errors import ApiError
from webapp.extensions import db, limiter


@bp.post("/signup")
@documented(
    "Create a freelancer account",
    body=SignupSchema,
    status=201,
    auth=False,
    response={
        "type": "object",
        "properties": {"id": {"type": "integer"}, "slug": {"type": "string"}},
    },
)
@limiter.limit("20/hour")
def signup():
    data = SignupSchema().load(json_body())
    try:
        freelancer = service.signup(db.session, data)
    except service.AccountConflict as exc:
        db.session.rollback()
        raise ApiError(409, "Already taken.", fields=exc.fields) from None
    db.session.commit()
    return jsonify({"id": freelancer.id, "slug": freelancer.slug}), 201


def _token(row: ApiToken) -> dict:
    return TokenSchema().dump(row)


@bp.post("/tokens")
@documented(
    "Exchange e-mail and password for a bearer token (valid `expires_in_days`, default 90)",
    body=TokenRequestSchema,
    status=201,
    auth=False,
    response={
        "type": "object",
        "properties": {
            "token": {"type": "string"},
            "id": {"type": "integer"},
            "label": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
)
@security.login_address_limit
@security.login_account_limit
def create_token():
    data = TokenRequestSchema().load(json_body())
    client = security.client_info()
    freelancer = service.authenticate(
        db.session, data["email"], data["password"], client=client, via="api"
    )
    if freelancer is None:
        db.session.commit()  # the failed log-in's audit event
        raise ApiError(401, "Wrong e-mail or password.", code="invalid_credentials")
    days = data.get("expires_in_days") or current_app.config["API_TOKEN_DAYS"]
    row, token = service.issue_token(
        db.session, freelancer, days=days, label=data["label"], client=client
    )
    db.session.commit()
    return jsonify({"token": token, **_token(row)}), 201


@bp.get("/tokens")
@documented(
    "List the caller's API tokens (never their secrets)",
    response={
        "type": "object",
        "properties": {
            "tokens": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "label": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "expires_at": {"type": "string", "format": "date-time"},
                        "last_used_at": {"type": "string", "format": "date-time", "nullable": True},
                    },
                },
            }
        },
    },
)
@token_required
def list_tokens():
    rows = service.list_tokens(db.session, current_freelancer())
    return jsonify({"tokens": [_token(row) for row in rows]})


@bp.delete("/tokens/<int:token_id>")
@documented("Revoke one of the caller's API tokens", status=204)
@token_required
def revoke_token(token_id: int):
    if not service.revoke_token(
        db.session, current_freelancer(), token_id, client=security.client_info()
    ):
        raise ApiError(404, "No such token.")
    db.session.commit()
    return "", 204


@bp.get("/me")
@documented("Read the business profile", response=ProfileSchema)
@token_required
def get_me():
    return jsonify(dump_profile(current_freelancer()))


@bp.patch("/me")
@documented("Change the business profile", body=ProfileSchema, response=ProfileSchema)
@token_required
def patch_me():
    freelancer = current_freelancer()
    changes = ProfileSchema(freelancer=freelancer, partial=True).load(json_body())
    service.update_profile(db.session, freelancer, changes)
    db.session.commit()
    return jsonify(dump_profile(freelancer))
