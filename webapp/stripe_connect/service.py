"""Connect, inspect and disconnect a freelancer's own Stripe account."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import current_app
from sqlalchemy import select

from billing import events
from billing.credentials import StripeCredentials
from billing.errors import GatewayAuthError, GatewayError
from billing.models import StripeAccount
from webapp.extensions import db
from webapp.stripe_connect import gateway_for, instance_credentials, secret_box
from webapp.validation import N_

SECRET_KEY_RE = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,}$")
PUBLISHABLE_KEY_RE = re.compile(r"^pk_(test|live)_[A-Za-z0-9_]{8,}$")
WEBHOOK_SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9_+/=]{8,}$")


class ConnectionRefused(Exception):
    """The keys are malformed, inconsistent, or refused by Stripe."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("stripe connection refused")
        self.fields = fields


def validate_keys(secret_key: str, publishable_key: str, webhook_secret: str) -> None:
    """Check the shape and consistency of a key set, with field messages."""
    fields: dict[str, list[str]] = {}
    if not SECRET_KEY_RE.match(secret_key or ""):
        fields["secret_key"] = [
            N_("Expected a secret key (sk_test_…, sk_live_…) or a restricted key (rk_…).")
        ]
    if not PUBLISHABLE_KEY_RE.match(publishable_key or ""):
        fields["publishable_key"] = [N_("Expected a publishable key (pk_test_… or pk_live_…).")]
    if not WEBHOOK_SECRET_RE.match(webhook_secret or ""):
        fields["webhook_secret"] = [N_("Expected a webhook signing secret (whsec_…).")]
    if not fields and ("_live_" in secret_key) != ("_live_" in publishable_key):
        fields["publishable_key"] = [N_("Both keys must be test keys or both live keys.")]
    if fields:
        raise ConnectionRefused(fields)


def webhook_url(account: StripeAccount | None) -> str:
    """The URL to paste in Stripe's dashboard for this account's webhooks."""
    base = current_app.config["BASE_URL"]
    if account is None:
        return f"{base}/stripe/webhook"
    return f"{base}/stripe/webhook/{account.webhook_token}"


def _account(freelancer_id: int) -> StripeAccount | None:
    return db.session.scalar(
        select(StripeAccount).where(StripeAccount.freelancer_id == freelancer_id)
    )


def connection_status(freelancer_id: int) -> dict[str, Any]:
    """What the freelancer sees of their connection (never the secrets)."""
    account = _account(freelancer_id)
    if account is None:
        instance = instance_credentials()
        return {
            "connected": False,
            "source": "instance",
            "publishable_key": instance.publishable_key,
            "mode": "live" if instance.livemode else "test",
            "secret_key_last4": None,
            "webhook_url": webhook_url(None),
        }
    return {
        "connected": True,
        "source": "own",
        "publishable_key": account.publishable_key,
        "mode": "live" if account.livemode else "test",
        "secret_key_last4": account.secret_key_last4,
        "webhook_url": webhook_url(account),
    }


def connect(
    freelancer_id: int, secret_key: str, publishable_key: str, webhook_secret: str
) -> StripeAccount:
    """Store the freelancer's keys (encrypted) after Stripe accepted them; flushes."""
    secret_key, publishable_key, webhook_secret = (
        (secret_key or "").strip(),
        (publishable_key or "").strip(),
        (webhook_secret or "").strip(),
    )
    validate_keys(secret_key, publishable_key, webhook_secret)
    creds = StripeCredentials(
        secret_key, publishable_key, webhook_secret, api_base=instance_credentials().api_base
    )
    try:
        gateway_for(creds).check_connection()
    except GatewayAuthError:
        raise ConnectionRefused({"secret_key": [N_("Stripe refused this key.")]}) from None
    except GatewayError as exc:
        raise ConnectionRefused({"secret_key": [f"Could not reach Stripe: {exc}"]}) from None
    box = secret_box()
    account = _account(freelancer_id)
    action = "stripe_keys_replaced"
    if account is None:
        account = StripeAccount(
            freelancer_id=freelancer_id, webhook_token=secrets.token_urlsafe(24)
        )
        db.session.add(account)
        action = "stripe_connected"
    account.secret_key_enc = box.encrypt(secret_key)
    account.secret_key_last4 = secret_key[-4:]
    account.publishable_key = publishable_key
    account.webhook_secret_enc = box.encrypt(webhook_secret)
    account.livemode = creds.livemode
    db.session.flush()
    events.record(
        db.session,
        subject_type="freelancer",
        subject_id=freelancer_id,
        action=action,
        actor=events.freelancer_actor(freelancer_id),
        freelancer_id=freelancer_id,
        data={
            "mode": "live" if creds.livemode else "test",
            "secret_key_last4": account.secret_key_last4,
        },
    )
    return account


def disconnect(freelancer_id: int) -> bool:
    """Forget the freelancer's keys (back to the instance's); flushes."""
    account = _account(freelancer_id)
    if account is None:
        return False
    db.session.delete(account)
    events.record(
        db.session,
        subject_type="freelancer",
        subject_id=freelancer_id,
        action="stripe_disconnected",
        actor=events.freelancer_actor(freelancer_id),
        freelancer_id=freelancer_id,
    )
    db.session.flush()
    return True


def rotate_all() -> int:
    """Re-encrypt every stored secret with the newest key; commits."""
    box = secret_box()
    count = 0
    for account in db.session.scalars(select(StripeAccount)):
        account.secret_key_enc = box.rotate(account.secret_key_enc)
        account.webhook_secret_enc = box.rotate(account.webhook_secret_enc)
        count += 1
    db.session.commit()
    return count
