"""Connect, inspect and disconnect a freelancer's own Stripe account."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import current_app
from sqlalchemy import select

from billing import events
from billing.credentials import StripeCredentials, account_endpoint, from_account
from billing.errors import GatewayAuthError, GatewayError
from billing.ledger import AUTHORIZED, CREATED, PROCESSING, REQUIRES_ACTION
from billing.models import Payment, StripeAccount
from billing.secrets import SecretDecryptionError
from webapp.accounts.security import client_info
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


# Payment statuses whose money is still moving at Stripe: the PaymentIntent
# (or the one about to be made) lives on the account it was started on, and
# only that account's keys can capture, release or finish it.
IN_FLIGHT_STATUSES = (AUTHORIZED, REQUIRES_ACTION, PROCESSING, CREATED)


def _en_gettext(message: str, **variables: Any) -> str:
    return message % variables if variables else message


def _en_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return (singular if num == 1 else plural) % variables


class MoneyInFlight(Exception):
    """Changing keys now would strand money on the current Stripe account.

    `payment_ids` maps each open status to the freelancer's payments in it.
    """

    def __init__(self, payment_ids: dict[str, list[int]]) -> None:
        super().__init__("money in flight on the current Stripe account")
        self.payment_ids = payment_ids

    @property
    def counts(self) -> dict[str, int]:
        return {status: len(ids) for status, ids in self.payment_ids.items()}

    def details(self) -> dict[str, dict[str, Any]]:
        """Counts and payment ids by status, for the API."""
        return {
            status: {"count": len(ids), "payment_ids": ids}
            for status, ids in self.payment_ids.items()
        }

    def describe(self, gettext: Any = _en_gettext, ngettext: Any = _en_ngettext) -> str:
        """What is in flight, in words: English by default, or with the page's gettext."""
        counts = self.counts
        parts = []
        if n := counts.get(AUTHORIZED):
            parts.append(ngettext("%(num)d card hold", "%(num)d card holds", n))
        if n := counts.get(REQUIRES_ACTION):
            parts.append(
                ngettext(
                    "%(num)d payment awaiting 3-D Secure",
                    "%(num)d payments awaiting 3-D Secure",
                    n,
                )
            )
        if n := counts.get(PROCESSING):
            parts.append(
                ngettext("%(num)d payment still processing", "%(num)d payments still processing", n)
            )
        if n := counts.get(CREATED):
            parts.append(
                ngettext(
                    "%(num)d payment being sent to Stripe",
                    "%(num)d payments being sent to Stripe",
                    n,
                )
            )
        if len(parts) > 1:
            what = gettext("%(first)s and %(last)s", first=", ".join(parts[:-1]), last=parts[-1])
        else:
            what = parts[0]
        return ngettext(
            "%(what)s is still open on this Stripe account: capture, release or let it"
            " finish before changing keys.",
            "%(what)s are still open on this Stripe account: capture, release or let them"
            " finish before changing keys.",
            sum(counts.values()),
            what=what,
        )


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


def current_account_ref(freelancer_id: int) -> str | None:
    """The account_ref of the keys acting for this freelancer now.

    `None` when the stored secret no longer decrypts (ENCRYPTION_KEYS lost a key).
    """
    account = _account(freelancer_id)
    if account is None:
        return instance_credentials().account_ref
    try:
        return from_account(account, secret_box(), instance_credentials().api_base).account_ref
    except SecretDecryptionError:
        return None


def money_in_flight(freelancer_id: int, account_ref: str | None) -> dict[str, list[int]]:
    """The freelancer's unfinished payments on this account, by status (ids ascending).

    Rows without a recorded account (made before the column existed) count as
    this account's: the safe side. Without a ref (the secret cannot be
    decrypted), any payment on the connection's endpoint counts.
    """
    if account_ref is None:
        account = _account(freelancer_id)
        prefix = f"{account_endpoint(account)}:" if account else "instance:"
        on_account = Payment.stripe_account.startswith(prefix, autoescape=True)
    else:
        on_account = Payment.stripe_account == account_ref
    rows = db.session.execute(
        select(Payment.status, Payment.id)
        .where(
            Payment.freelancer_id == freelancer_id,
            Payment.status.in_(IN_FLIGHT_STATUSES),
            on_account | Payment.stripe_account.is_(None),
        )
        .order_by(Payment.id)
    )
    found: dict[str, list[int]] = {}
    for status, payment_id in rows:
        found.setdefault(status, []).append(payment_id)
    return {status: found[status] for status in IN_FLIGHT_STATUSES if status in found}


def ensure_nothing_in_flight(freelancer_id: int) -> None:
    """Raise `MoneyInFlight` if the current account still has money moving."""
    found = money_in_flight(freelancer_id, current_account_ref(freelancer_id))
    if found:
        raise MoneyInFlight(found)


def _changes_account(account: StripeAccount | None, secret_key: str) -> bool:
    # Only the same secret key on the same connection keeps `account_ref`;
    # connecting over the instance's keys moves to a new endpoint, even with
    # the same key.
    if account is None:
        return True
    try:
        return secret_box().decrypt(account.secret_key_enc) != secret_key
    except SecretDecryptionError:
        return True


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
    """Store the freelancer's keys (encrypted) after Stripe accepted them; flushes.

    New keys are refused with `MoneyInFlight` while payments started with the
    current ones are unfinished; the same secret key again (to change only the
    publishable key or webhook secret) is always accepted.
    """
    secret_key, publishable_key, webhook_secret = (
        (secret_key or "").strip(),
        (publishable_key or "").strip(),
        (webhook_secret or "").strip(),
    )
    validate_keys(secret_key, publishable_key, webhook_secret)
    changes = _changes_account(_account(freelancer_id), secret_key)
    if changes:
        ensure_nothing_in_flight(freelancer_id)
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
    if changes:
        # Again after the Stripe call: a hold may have been placed meanwhile.
        ensure_nothing_in_flight(freelancer_id)
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
            **client_info(),
        },
    )
    return account


def disconnect(freelancer_id: int) -> bool:
    """Forget the freelancer's keys (back to the instance's); flushes.

    Refused with `MoneyInFlight` while payments made with them are unfinished.
    """
    account = _account(freelancer_id)
    if account is None:
        return False
    ensure_nothing_in_flight(freelancer_id)
    db.session.delete(account)
    events.record(
        db.session,
        subject_type="freelancer",
        subject_id=freelancer_id,
        action="stripe_disconnected",
        actor=events.freelancer_actor(freelancer_id),
        freelancer_id=freelancer_id,
        data=client_info(),
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
