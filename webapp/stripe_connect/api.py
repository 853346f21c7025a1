"""`GET, PUT, DELETE /api/v1/stripe-account`: the freelancer's own Stripe keys."""

from __future__ import annotations

from flask import jsonify
from marshmallow import RAISE, Schema, fields

from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.errors import ApiError
from webapp.extensions import db
from webapp.stripe_connect import service

_STATUS = {
    "type": "object",
    "properties": {
        "connected": {"type": "boolean"},
        "source": {"type": "string", "enum": ["own", "instance"]},
        "mode": {"type": "string", "enum": ["test", "live"]},
        "publishable_key": {"type": "string"},
        "secret_key_last4": {"type": "string", "nullable": True},
        "webhook_url": {"type": "string"},
    },
}


def _refuse_in_flight(exc: service.MoneyInFlight) -> ApiError:
    db.session.rollback()
    return ApiError(
        409, exc.describe(), code="money_in_flight", fields={"in_flight": exc.details()}
    )


class StripeKeysSchema(Schema):
    class Meta:
        unknown = RAISE

    secret_key = fields.String(required=True)
    publishable_key = fields.String(required=True)
    webhook_secret = fields.String(required=True)


@bp.get("/stripe-account")
@documented("Stripe connection status (never the secrets)", response=_STATUS)
@token_required
def get_stripe_account():
    return jsonify(service.connection_status(current_freelancer().id))


@bp.put("/stripe-account")
@documented(
    "Connect or replace your own Stripe keys (stored encrypted); "
    "409 money_in_flight while payments on the current account are unfinished",
    body=StripeKeysSchema,
    response=_STATUS,
)
@token_required
def put_stripe_account():
    data = StripeKeysSchema().load(json_body())
    freelancer = current_freelancer()
    try:
        service.connect(freelancer.id, **data)
    except service.ConnectionRefused as exc:
        db.session.rollback()
        raise ApiError(422, "These Stripe keys cannot be used.", fields=exc.fields) from None
    except service.MoneyInFlight as exc:
        raise _refuse_in_flight(exc) from None
    db.session.commit()
    return jsonify(service.connection_status(freelancer.id))


@bp.delete("/stripe-account")
@documented(
    "Disconnect: payments use the instance's keys again; "
    "409 money_in_flight while payments on the current account are unfinished",
    response=_STATUS,
)
@token_required
def delete_stripe_account():
    freelancer = current_freelancer()
    try:
        service.disconnect(freelancer.id)
    except service.MoneyInFlight as exc:
        raise _refuse_in_flight(exc) from None
    db.session.commit()
    return jsonify(service.connection_status(freelancer.id))
