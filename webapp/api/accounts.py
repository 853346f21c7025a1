"""Sign-up, tokens and the business profile over the API."""

from __future__ import annotations

from flask import jsonify

from webapp.accounts import service
from webapp.accounts.schemas import LoginSchema, ProfileSchema, SignupSchema, dump_profile
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


@bp.post("/tokens")
@documented(
    "Exchange e-mail and password for a bearer token",
    body=LoginSchema,
    status=201,
    auth=False,
    response={"type": "object", "properties": {"token": {"type": "string"}}},
)
@limiter.limit("10/minute")
def create_token():
    data = LoginSchema().load(json_body())
    freelancer = service.authenticate(db.session, data["email"], data["password"])
    if freelancer is None:
        raise ApiError(401, "Wrong e-mail or password.", code="invalid_credentials")
    token = service.issue_token(db.session, freelancer)
    db.session.commit()
    return jsonify({"token": token}), 201


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
