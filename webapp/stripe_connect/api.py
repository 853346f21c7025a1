"""`GET, PUT, DELETE /api/v1/stripe-account`: the freelancer's own Stripe keys."""

from __future__ import annotations

from flask import jsonify
from marshmallow import RAISE, Schema, fields

from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.errors import ApiError
from webapp.extensions import db
from webapp.stripe_connect import service


class StripeKeysSchema(Schema):
    class Meta:
        unknown = RAISE

    secret_key = fields.String(required=True)
    publishable_key = fields.String(required=True)
    webhook_secret = fields.String(required=True)


@bp.get("/stripe-account")
@token_required
def get_stripe_account():
    return jsonify(service.connection_status(current_freelancer().id))


@bp.put("/stripe-account")
@token_required
def put_stripe_account():
    data = StripeKeysSchema().load(json_body())
    freelancer = current_freelancer()
    try:
        service.connect(freelancer.id, **data)
    except service.ConnectionRefused as exc:
        db.session.rollback()
        raise ApiError(422, "These Stripe keys cannot be used.", fields=exc.fields) from None
    db.session.commit()
    return jsonify(service.connection_status(freelancer.id))


@bp.delete("/stripe-account")
@token_required
def delete_stripe_account():
    freelancer = current_freelancer()
    service.disconnect(freelancer.id)
    db.session.commit()
    return jsonify(service.connection_status(freelancer.id))
