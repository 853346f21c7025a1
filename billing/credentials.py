"""Which Stripe keys act for a freelancer: their own, or the instance's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import StripeAccount
from billing.secrets import SecretBox

INSTANCE_ENDPOINT = "instance"


@dataclass(frozen=True, slots=True)
class StripeCredentials:
    """Everything needed to talk to one Stripe account and verify its webhooks."""

    secret_key: str
    publishable_key: str
    webhook_secret: str
    api_base: str | None
    # Where its webhooks arrive: "instance" or "account:<id>".
    endpoint: str = INSTANCE_ENDPOINT

    @property
    def livemode(self) -> bool:
        return "_live_" in self.secret_key

    @property
    def account_ref(self) -> str:
        """Which Stripe account these keys open, as stored on every Stripe object we make.

        The endpoint plus a fingerprint of the secret key: new keys on the same
        endpoint may open another account, whose customers and PaymentIntents
        are not the old ones'. (A new key of the same account also counts as a
        change: the safe side.)
        """
        digest = hashlib.sha256(self.secret_key.encode()).hexdigest()[:16]
        return f"{self.endpoint}:{digest}"


def account_endpoint(account: StripeAccount) -> str:
    """The webhook endpoint name of a connected account."""
    return f"account:{account.id}"


def from_account(account: StripeAccount, box: SecretBox, api_base: str | None) -> StripeCredentials:
    """Decrypt a connected account's keys."""
    return StripeCredentials(
        secret_key=box.decrypt(account.secret_key_enc),
        publishable_key=account.publishable_key,
        webhook_secret=box.decrypt(account.webhook_secret_enc),
        api_base=api_base,
        endpoint=account_endpoint(account),
    )


def credentials_for(
    session: Session, freelancer_id: int, *, instance: StripeCredentials, box: SecretBox
) -> StripeCredentials:
    """The freelancer's own keys if connected, else the instance's."""
    account = session.scalar(
        select(StripeAccount).where(StripeAccount.freelancer_id == freelancer_id)
    )
    if account is None:
        return instance
    return from_account(account, box, instance.api_base)
