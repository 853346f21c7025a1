"""`POST /stripe/webhook` (the instance's keys) and `/stripe/webhook/<token>` (an account's)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from billing import webhooks
from billing.credentials import INSTANCE_ENDPOINT, account_endpoint
from billing.models import StripeAccount
from billing.secrets import SecretDecryptionError
from webapp.errors import error_response
from webapp.extensions import csrf, db
from webapp.stripe_connect import instance_credentials, secret_box
from webapp.webhooks import load_handlers

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)
# Stripe cannot send a CSRF token; the signature is what authenticates it.
csrf.exempt(bp)
load_handlers()

_MAX_TOKEN = 64  # stripe_account.webhook_token


@bp.post("/stripe/webhook")
def instance_webhook() -> tuple[Response, int]:
    """Events of the instance's own Stripe account (single-freelancer installs, demo)."""
    return _handle(INSTANCE_ENDPOINT, instance_credentials().webhook_secret)


@bp.post("/stripe/webhook/<token>")
def account_webhook(token: str) -> tuple[Response, int]:
    """Events of one freelancer's connected account, checked with that account's secret."""
    account = None
    if len(token) <= _MAX_TOKEN:
        account = db.session.scalar(
            select(StripeAccount).where(StripeAccount.webhook_token == token)
        )
    if account is None:
        return error_response(404, "Unknown webhook endpoint.")
    try:
        secret = secret_box().decrypt(account.webhook_secret_enc)
    except SecretDecryptionError:
        # Our configuration lost the key (ENCRYPTION_KEYS rotated too early).
        # A non-2xx makes Stripe retry for days, time enough to restore it.
        log.error("cannot decrypt the webhook secret of stripe account %s", account.id)
        return error_response(
            503, "This endpoint's signing secret is unavailable.", code="secret_unavailable"
        )
    return _handle(account_endpoint(account), secret)


def _handle(endpoint: str, secret: str) -> tuple[Response, int]:
    payload = request.get_data(cache=False)
    # Verify before anything touches the database: a forged request writes nothing.
    try:
        webhooks.verify(payload, request.headers.get("Stripe-Signature"), secret)
    except webhooks.SignatureError as exc:
        # Worth a line in the log: a run of these is a wrong secret in
        # Stripe's dashboard (or a probe), and Stripe will disable the endpoint.
        log.warning("webhook refused on %s: %s", endpoint, exc)
        return error_response(400, str(exc), code=exc.code)
    try:
        event = webhooks.parse_event(payload)
        row = webhooks.receive(db.session, endpoint, payload)
    except webhooks.MalformedEvent as exc:
        return error_response(400, str(exc), code=exc.code)
    if row is None:
        # Seen before: answer with what became of the first delivery. Its
        # handler is not run again here; a failed row is the due runner's.
        db.session.rollback()
        existing = webhooks.find(db.session, endpoint, event["id"])
        status = existing.status if existing is not None else webhooks.RECEIVED
        return _received(duplicate=True, status=status)
    # Committed on its own first, so the raw event survives whatever the
    # handler does next; a crash before the second commit leaves it
    # "received", and the due runner picks up such orphans.
    db.session.commit()
    try:
        webhooks.process(db.session, row)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("webhook %s on %s: could not record its processing", row.id, endpoint)
        return _received(duplicate=False, status=webhooks.RECEIVED)
    # A handler failure still answers 200: the row is kept with its error and
    # retried by our due runner (webapp/webhooks/due.py) with a backoff, so
    # Stripe need not retry. A 500 would make Stripe resend an event we
    # already hold, and eventually disable the endpoint.
    return _received(duplicate=False, status=row.status)


def _received(*, duplicate: bool, status: str) -> tuple[Response, int]:
    return jsonify({"received": True, "duplicate": duplicate, "status": status}), 200
